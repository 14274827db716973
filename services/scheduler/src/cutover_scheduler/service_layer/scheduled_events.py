"""Creating, reviewing, changing and cancelling scheduled events, and recording their outcome."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from cutover_contracts.events import (
    AccountArchivedV1,
    AccountDisconnectRequestedV1,
    ScheduledEventOutcomeV1,
)
from cutover_contracts.scheduled import DISCONNECT_ACCOUNT, PAYLOADS
from cutover_kit import context
from cutover_kit.directory import AccountsDirectory, require_active_account
from cutover_kit.pagination import PageRequest
from cutover_scheduler.adapters.emitter import WAKEUP_CHANNEL
from cutover_scheduler.adapters.queries import EventFilter
from cutover_scheduler.adapters.repository import SchedulerRepository, Superseding
from cutover_scheduler.domain import errors
from cutover_scheduler.domain.model import ScheduledEvent
from cutover_scheduler.service_layer.unit_of_work import SchedulerUnitOfWork

UNSET: Any = object()


def valid_payload(event_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload in its contract's shape, or the refusal naming what is wrong."""
    shape = PAYLOADS.get(event_type)
    if shape is None:
        raise errors.UnknownEventType(event_type, sorted(PAYLOADS))
    try:
        return shape.model_validate(payload).model_dump(mode="json", exclude_none=True)
    except ValidationError as error:
        raise errors.InvalidPayload(event_type, str(error)) from error


async def _check_future(repository: SchedulerRepository, run_at: datetime) -> None:
    """The future by the database clock, the clock the emitter uses."""
    if run_at <= await repository.database_now():
        raise errors.RunAtNotInFuture(run_at)


async def schedule(
    uow: SchedulerUnitOfWork,
    directory: AccountsDirectory,
    *,
    event_type: str,
    account_id: int,
    run_at: datetime,
    payload: dict[str, Any],
) -> ScheduledEvent:
    payload = valid_payload(event_type, payload)
    async with uow:
        repository = uow.scheduled_events
        await _check_future(repository, run_at)
        await require_active_account(repository.accounts, directory, account_id)
        event = await repository.add(
            event_type=event_type,
            account_id=account_id,
            run_at=run_at,
            payload=payload,
            correlation_id=context.correlation_id.get(),
            scheduled_by=context.actor.get(),
        )
        uow.notify_on_commit(WAKEUP_CHANNEL)
        await uow.commit()
        return event


async def get(uow: SchedulerUnitOfWork, event_id: UUID) -> ScheduledEvent:
    async with uow:
        event = await uow.scheduled_events.get(event_id)
        if event is None:
            raise errors.ScheduledEventNotFound(event_id)
        return event


async def list_events(
    uow: SchedulerUnitOfWork, filters: EventFilter, page: PageRequest
) -> tuple[list[ScheduledEvent], str | None]:
    async with uow:
        return await uow.scheduled_events.list_events(filters, page)


async def change(
    uow: SchedulerUnitOfWork,
    event_id: UUID,
    *,
    run_at: datetime = UNSET,
    payload: dict[str, Any] = UNSET,
) -> ScheduledEvent:
    async with uow:
        repository = uow.scheduled_events
        # The row lock waits for an emitter batch holding the event, then sees it emitted.
        event = await repository.get(event_id, for_update=True)
        if event is None:
            raise errors.ScheduledEventNotFound(event_id)
        event.check_pending()
        changes: dict[str, Any] = {}
        if run_at is not UNSET:
            await _check_future(repository, run_at)
            changes["run_at"] = run_at
        if payload is not UNSET:
            changes["payload"] = valid_payload(event.event_type, payload)
        if changes:
            event = await repository.update(event_id, **changes)
            uow.notify_on_commit(WAKEUP_CHANNEL)
        await uow.commit()
        return event


async def cancel(uow: SchedulerUnitOfWork, event_id: UUID) -> ScheduledEvent:
    async with uow:
        repository = uow.scheduled_events
        event = await repository.get(event_id, for_update=True)
        if event is None:
            raise errors.ScheduledEventNotFound(event_id)
        event.check_pending()
        event = await repository.update(
            event_id, state="cancelled", outcome=f"cancelled by {context.actor.get()}"
        )
        await uow.commit()
        return event


async def record_outcome(uow: SchedulerUnitOfWork, outcome: ScheduledEventOutcomeV1) -> None:
    """emitted → completed or failed, as accounts reports it."""
    repository = uow.scheduled_events
    event = await repository.get(outcome.scheduled_event_id, for_update=True)
    if event is None or event.state not in ("emitted", "pending"):
        return
    summary = (
        f"completed (disconnect {outcome.disconnect_id})"
        if outcome.outcome == "completed" and outcome.disconnect_id
        else outcome.outcome
    )
    # Still pending: the event was sent but never marked (its batch failed after the broker
    # wrote it, or a frozen emitter's producer sent it after the lease had cut its
    # transaction). It was emitted by now, never earlier than due.
    await repository.record_outcome(
        event,
        state=outcome.outcome,
        outcome=outcome.reason or summary,
        disconnect_id=outcome.disconnect_id,
    )


async def cancel_for_archived_account(
    uow: SchedulerUnitOfWork, archived: AccountArchivedV1
) -> None:
    """Archiving cancels the account's pending scheduled events."""
    await uow.scheduled_events.cancel_pending_of(
        archived.account_id, "cancelled: the account was archived"
    )


async def cancel_superseded_disconnects(
    uow: SchedulerUnitOfWork, requests: Sequence[AccountDisconnectRequestedV1]
) -> None:
    """Disconnects have started: each account's pending scheduled disconnects (other than the one
    that started its disconnect) would only fail when due, so they end now, cancelled with it as the
    cause. A batch is one statement."""
    await uow.scheduled_events.cancel_superseded(
        DISCONNECT_ACCOUNT,
        [
            Superseding(
                requested.account_id,
                requested.scheduled_event_id,
                f"cancelled: superseded by {requested.source} disconnect {requested.disconnect_id}"
                + (f" requested by {requested.actor}" if requested.actor else ""),
            )
            for requested in requests
        ],
    )
