"""The scheduler HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from cutover_kit.auth import requires
from cutover_kit.errors import Unprocessable
from cutover_kit.http import Directory, unit_of_work
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Page, PageRequest
from cutover_scheduler.adapters.queries import SCHEDULED_EVENTS
from cutover_scheduler.entrypoints.schemas import (
    ScheduledEventCreate,
    ScheduledEventOut,
    ScheduledEventPatch,
)
from cutover_scheduler.service_layer import scheduled_events
from cutover_scheduler.service_layer.unit_of_work import SchedulerUnitOfWork

# The route dependency, typed with this service's repositories.
UoW = Annotated[SchedulerUnitOfWork, Depends(unit_of_work)]

router = APIRouter(tags=["scheduled events"])


@router.post(
    "/scheduled-events",
    dependencies=[requires("scheduler:write", "accounts:lifecycle")],
    status_code=201,
    summary="Schedule an event (never started before its run_at)",
    responses=problems(404, 409, 422),
)
async def schedule(
    body: ScheduledEventCreate, uow: UoW, directory: Directory, idempotency: Idempotency
) -> ScheduledEventOut:
    async def create() -> ScheduledEventOut:
        event = await scheduled_events.schedule(
            uow,
            directory,
            event_type=body.event_type,
            account_id=body.account_id,
            run_at=body.run_at,
            payload=body.payload,
        )
        return ScheduledEventOut.of(event)

    return await idempotency.run(uow, body, 201, create)


@router.get("/scheduled-events", dependencies=[requires("scheduler:read")], responses=problems(422))
async def list_events(
    uow: UoW,
    page: Annotated[PageRequest, SCHEDULED_EVENTS.query],
    account_id: Annotated[int | None, Query(gt=0, le=2**63 - 1)] = None,
    state: Literal["pending", "emitted", "completed", "failed", "cancelled"] | None = None,
    event_type: Annotated[str | None, Query(max_length=50)] = None,
) -> Page[ScheduledEventOut]:
    filters = scheduled_events.EventFilter(account_id, state, event_type)
    return Page.of(await scheduled_events.list_events(uow, filters, page), ScheduledEventOut.of)


@router.get(
    "/scheduled-events/{event_id}",
    dependencies=[requires("scheduler:read")],
    responses=problems(404, 422),
)
async def get_event(event_id: UUID, uow: UoW) -> ScheduledEventOut:
    return ScheduledEventOut.of(await scheduled_events.get(uow, event_id))


@router.patch(
    "/scheduled-events/{event_id}",
    dependencies=[requires("scheduler:write", "accounts:lifecycle")],
    summary="Change a pending event's run_at or payload",
    responses=problems(404, 409, 422),
)
async def change_event(event_id: UUID, body: ScheduledEventPatch, uow: UoW) -> ScheduledEventOut:
    given = body.model_dump(exclude_unset=True)
    if any(value is None for value in given.values()):
        raise Unprocessable("run_at and payload cannot be null.")
    return ScheduledEventOut.of(await scheduled_events.change(uow, event_id, **given))


@router.post(
    "/scheduled-events/{event_id}/cancel",
    dependencies=[requires("scheduler:write")],
    summary="Cancel a pending event: it never fires",
    responses=problems(404, 409, 422),
)
async def cancel_event(event_id: UUID, uow: UoW, idempotency: Idempotency) -> ScheduledEventOut:
    async def act() -> ScheduledEventOut:
        return ScheduledEventOut.of(await scheduled_events.cancel(uow, event_id))

    return await idempotency.run(uow, None, 200, act)
