"""The disconnect: its preview, the request, its progress, and retry or abandon when stalled."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body

from cutover_accounts.adapters.queries import DISCONNECTS
from cutover_accounts.entrypoints.http.common import (
    AccountId,
    DisconnectStarts,
    PeersOf,
    StepTimeout,
    UoW,
)
from cutover_accounts.entrypoints.schemas import (
    AccountOut,
    DisconnectAbandon,
    DisconnectCreate,
    DisconnectOut,
    DisconnectStarted,
    PreviewOut,
    StatusOut,
    UninvoicedSummary,
)
from cutover_accounts.service_layer import (
    disconnects,
    preview,
)
from cutover_kit import context
from cutover_kit.auth import requires
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Page, PageRequest

router = APIRouter()


@router.get(
    "/accounts/{account_id}/disconnect-preview",
    dependencies=[requires("accounts:read")],
    tags=["disconnects"],
    summary="What disconnecting this account will do (the confirmation details)",
    responses=problems(404, 422),
)
async def disconnect_preview(account_id: AccountId, uow: UoW, peers: PeersOf) -> PreviewOut:
    details = await preview.disconnect_preview(uow, peers, account_id)
    return PreviewOut(
        account=AccountOut.of(details.account),
        can_disconnect=details.can_disconnect,
        refusal=details.refusal,
        disconnect_status=StatusOut(**vars(details.disconnect_status)),
        uninvoiced_debits=(
            UninvoicedSummary(**details.uninvoiced) if details.uninvoiced is not None else None
        ),
        serviceable_address=details.serviceable_address,
        children_staying_active=[AccountOut.of(child) for child in details.children_staying_active],
        children_staying_active_count=details.children_staying_active_count,
        pending_scheduled_events=details.pending_scheduled_events,
        unavailable=details.unavailable,
        warnings=details.warnings,
    )


@router.post(
    "/accounts/{account_id}/disconnect",
    dependencies=[requires("accounts:lifecycle")],
    status_code=202,
    tags=["disconnects"],
    summary="Disconnect an account",
    description=(
        "Moves the account to the Disconnect Account Status at once; the final invoice and the "
        "address release follow through Kafka. Follow `GET /disconnects/{id}` until `completed`. "
        "The account's pending scheduled disconnects are cancelled, with this one as the cause."
    ),
    responses=problems(404, 409, 422),
)
async def disconnect_account(
    account_id: AccountId,
    uow: UoW,
    idempotency: Idempotency,
    step_timeout: StepTimeout,
    starts: DisconnectStarts,
    body: Annotated[DisconnectCreate | None, Body()] = None,
) -> DisconnectStarted:
    if idempotency.key is None:
        # Started with the requests that arrive with it, in one transaction; a request with an
        # Idempotency-Key claims the key in its own transaction, below.
        order = disconnects.DisconnectOrder(
            account_id,
            reason=body.reason if body else None,
            actor=context.actor.get(),
            correlation_id=context.correlation_id.get(),
        )
        return DisconnectStarted.of(await starts.submit(order))

    async def disconnect() -> DisconnectStarted:
        return DisconnectStarted.of(
            await disconnects.request_disconnect(
                uow, account_id, step_timeout=step_timeout, reason=body.reason if body else None
            )
        )

    return await idempotency.run(uow, body, 202, disconnect)


@router.get(
    "/disconnects",
    dependencies=[requires("accounts:read")],
    tags=["disconnects"],
    summary="Disconnects in one state (stalled: pending past their deadline)",
    responses=problems(422),
)
async def list_disconnects(
    uow: UoW,
    page: Annotated[PageRequest, DISCONNECTS.query],
    state: Literal["pending", "stalled", "completed", "abandoned"] | None = None,
) -> Page[DisconnectOut]:
    return Page.of(await disconnects.list_disconnects(uow, state, page), DisconnectOut.of)


@router.post(
    "/disconnects/{disconnect_id}/retry",
    dependencies=[requires("ops")],
    status_code=202,
    tags=["disconnects"],
    summary="Ask billing and addresses again (same disconnect id; they answer once)",
    responses=problems(404, 409, 422),
)
async def retry_disconnect(
    disconnect_id: UUID, uow: UoW, idempotency: Idempotency, step_timeout: StepTimeout
) -> DisconnectOut:
    async def retry() -> DisconnectOut:
        return DisconnectOut.of(
            await disconnects.retry_disconnect(uow, disconnect_id, step_timeout=step_timeout)
        )

    return await idempotency.run(uow, None, 202, retry)


@router.post(
    "/disconnects/{disconnect_id}/abandon",
    dependencies=[requires("ops")],
    tags=["disconnects"],
    summary="End a stalled disconnect: the account keeps its status and is no longer frozen",
    responses=problems(404, 409, 422),
)
async def abandon_disconnect(
    disconnect_id: UUID, body: DisconnectAbandon, uow: UoW, idempotency: Idempotency
) -> DisconnectOut:
    async def abandon() -> DisconnectOut:
        return DisconnectOut.of(
            await disconnects.abandon_disconnect(uow, disconnect_id, reason=body.reason)
        )

    return await idempotency.run(uow, body, 200, abandon)


@router.get(
    "/disconnects/{disconnect_id}",
    dependencies=[requires("accounts:read")],
    tags=["disconnects"],
    responses=problems(404, 422),
)
async def get_disconnect(disconnect_id: UUID, uow: UoW) -> DisconnectOut:
    return DisconnectOut.of(await disconnects.get_disconnect(uow, disconnect_id))


@router.get(
    "/accounts/{account_id}/disconnects",
    dependencies=[requires("accounts:read")],
    tags=["disconnects"],
    responses=problems(404, 422),
)
async def account_disconnects(
    account_id: AccountId, uow: UoW, page: Annotated[PageRequest, DISCONNECTS.query]
) -> Page[DisconnectOut]:
    return Page.of(await disconnects.disconnects_of(uow, account_id, page), DisconnectOut.of)
