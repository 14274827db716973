"""The accounts HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path, Query, Request

from cutover_accounts.adapters.peers import Peers
from cutover_accounts.domain.errors import AccountsAreNeverDeleted
from cutover_accounts.entrypoints.schemas import (
    AccountCreate,
    AccountOut,
    AccountPatch,
    ActivationRow,
    ActivationsDisconnections,
    DisconnectAbandon,
    DisconnectCreate,
    DisconnectionRow,
    DisconnectOut,
    HistoryEntry,
    PreviewOut,
    ReactivateBody,
    SettingsBody,
    StatusCreate,
    StatusOut,
    TypeCreate,
    TypeOut,
    UninvoicedSummary,
)
from cutover_accounts.service_layer import (
    accounts,
    catalog,
    disconnects,
    lifecycle,
    preview,
    report,
)
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_kit.auth import requires
from cutover_kit.errors import Unprocessable
from cutover_kit.http import unit_of_work
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Cursor, Instant, Limit, Page

# The route dependency, typed with this service's repositories.
UoW = Annotated[AccountsUnitOfWork, Depends(unit_of_work)]

router = APIRouter()


def _step_timeout(request: Request) -> timedelta:
    seconds = request.app.state.runtime.settings.disconnect_step_timeout_seconds
    return timedelta(seconds=seconds)


StepTimeout = Annotated[timedelta, Depends(_step_timeout)]

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]
OptionalAccountId = Annotated[int | None, Query(gt=0, le=2**63 - 1)]
Search = Annotated[str | None, Query(min_length=1, max_length=200, description="Name or id")]


def _sort(fields: str) -> object:
    return Query(max_length=50, description=f"One of {fields}; a leading '-' reverses")


# --- statuses, types, settings --------------------------------------------------------------------


@router.get(
    "/account-statuses",
    dependencies=[requires("accounts:read")],
    tags=["catalog"],
    responses=problems(),
)
async def list_statuses(uow: UoW) -> Page[StatusOut]:
    items = await catalog.statuses(uow)
    return Page(items=[StatusOut(**vars(item)) for item in items])


@router.post(
    "/account-statuses",
    dependencies=[requires("accounts:write")],
    status_code=201,
    tags=["catalog"],
    responses=problems(409, 422),
)
async def create_status(body: StatusCreate, uow: UoW, idempotency: Idempotency) -> StatusOut:
    async def create() -> StatusOut:
        return StatusOut(**vars(await catalog.add_status(uow, body.name, body.activates_account)))

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/account-types",
    dependencies=[requires("accounts:read")],
    tags=["catalog"],
    responses=problems(),
)
async def list_types(uow: UoW) -> Page[TypeOut]:
    return Page(items=[TypeOut(**item) for item in await catalog.types(uow)])


@router.post(
    "/account-types",
    dependencies=[requires("accounts:write")],
    status_code=201,
    tags=["catalog"],
    responses=problems(409, 422),
)
async def create_type(body: TypeCreate, uow: UoW, idempotency: Idempotency) -> TypeOut:
    async def create() -> TypeOut:
        return TypeOut(**await catalog.add_type(uow, body.name))

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/settings", dependencies=[requires("accounts:read")], tags=["catalog"], responses=problems()
)
async def get_settings(uow: UoW) -> SettingsBody:
    return SettingsBody(disconnect_account_status_id=await catalog.disconnect_status_id(uow))


@router.put(
    "/settings",
    dependencies=[requires("settings:write")],
    tags=["catalog"],
    summary="Choose the Disconnect Account Status (a non-activating status)",
    responses=problems(422),
)
async def put_settings(body: SettingsBody, uow: UoW) -> SettingsBody:
    status_id = await catalog.set_disconnect_status(uow, body.disconnect_account_status_id)
    return SettingsBody(disconnect_account_status_id=status_id)


# --- accounts -------------------------------------------------------------------------------------


@router.post(
    "/accounts",
    dependencies=[requires("accounts:write")],
    status_code=201,
    tags=["accounts"],
    summary="Create an account",
    responses=problems(409, 422),
)
async def create_account(body: AccountCreate, uow: UoW, idempotency: Idempotency) -> AccountOut:
    async def create() -> AccountOut:
        account = await accounts.create_account(
            uow,
            account_id=body.id,
            name=body.name,
            account_type_id=body.account_type_id,
            account_status_id=body.account_status_id,
            parent_account_id=body.parent_account_id,
        )
        return AccountOut.of(account)

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/accounts",
    dependencies=[requires("accounts:read")],
    tags=["accounts"],
    summary="List accounts (archived ones on request)",
    responses=problems(422),
)
async def list_accounts(
    uow: UoW,
    account_status_id: UUID | None = None,
    account_type_id: UUID | None = None,
    parent_account_id: OptionalAccountId = None,
    q: Search = None,
    include_archived: bool = False,
    sort: Annotated[
        str, _sort("id, name, created_at, updated_at, activated_at, disconnected_at")
    ] = "id",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AccountOut]:
    filters = accounts.AccountFilter(
        account_status_id=account_status_id,
        account_type_id=account_type_id,
        parent_account_id=parent_account_id,
        q=q,
        include_archived=include_archived,
    )
    items, next_cursor = await accounts.list_accounts(
        uow, filters, sort=sort, limit=limit, cursor=cursor
    )
    return Page(items=[AccountOut.of(item) for item in items], next_cursor=next_cursor)


@router.get(
    "/accounts/{account_id}",
    dependencies=[requires("accounts:read")],
    tags=["accounts"],
    responses=problems(404, 422),
)
async def get_account(account_id: AccountId, uow: UoW) -> AccountOut:
    return AccountOut.of(await accounts.get_account(uow, account_id))


@router.patch(
    "/accounts/{account_id}",
    dependencies=[requires("accounts:write")],
    tags=["accounts"],
    summary="Edit an account",
    description=(
        "Changes the fields given. A status change stays within its kind: leaving an activating "
        "status is a disconnect and entering one after a disconnect is a reactivation (409 "
        "`use-disconnect` / `use-reactivate`); a lead made active records an activation."
    ),
    responses=problems(404, 409, 422),
)
async def patch_account(account_id: AccountId, body: AccountPatch, uow: UoW) -> AccountOut:
    given = body.model_dump(exclude_unset=True)
    for required in ("name", "account_type_id", "account_status_id"):
        if required in given and given[required] is None:
            raise Unprocessable(f"{required} cannot be null.", field=required)
    return AccountOut.of(await accounts.edit_account(uow, account_id, **given))


@router.delete(
    "/accounts/{account_id}",
    dependencies=[requires("accounts:write")],
    tags=["accounts"],
    summary="Refused: accounts are never deleted",
    status_code=405,
    responses=problems(405),
)
async def delete_account(account_id: AccountId) -> None:
    raise AccountsAreNeverDeleted(account_id)


@router.get(
    "/accounts/{account_id}/children",
    dependencies=[requires("accounts:read")],
    tags=["accounts"],
    responses=problems(404, 422),
)
async def list_children(
    account_id: AccountId,
    uow: UoW,
    sort: Annotated[str, _sort("id, name, created_at, updated_at")] = "id",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[AccountOut]:
    items, next_cursor = await accounts.children(
        uow, account_id, sort=sort, limit=limit, cursor=cursor
    )
    return Page(items=[AccountOut.of(item) for item in items], next_cursor=next_cursor)


@router.get(
    "/accounts/{account_id}/history",
    dependencies=[requires("accounts:read")],
    tags=["accounts"],
    summary="Every lifecycle change, with time, actor, cause and correlation id",
    responses=problems(404, 422),
)
async def account_history(
    account_id: AccountId,
    uow: UoW,
    sort: Annotated[str, _sort("id, at")] = "id",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[HistoryEntry]:
    items, next_cursor = await accounts.history(
        uow, account_id, sort=sort, limit=limit, cursor=cursor
    )
    return Page(items=[HistoryEntry(**item) for item in items], next_cursor=next_cursor)


@router.post(
    "/accounts/{account_id}/reactivate",
    dependencies=[requires("accounts:lifecycle")],
    tags=["lifecycle"],
    summary="Reactivate a disconnected account (rule 6)",
    responses=problems(404, 409, 422),
)
async def reactivate(
    account_id: AccountId,
    uow: UoW,
    idempotency: Idempotency,
    body: Annotated[ReactivateBody | None, Body()] = None,
) -> AccountOut:
    async def act() -> AccountOut:
        status_id = body.account_status_id if body else None
        return AccountOut.of(
            await lifecycle.reactivate(uow, account_id, account_status_id=status_id)
        )

    return await idempotency.run(uow, body, 200, act)


@router.post(
    "/accounts/{account_id}/archive",
    dependencies=[requires("accounts:lifecycle")],
    tags=["lifecycle"],
    summary="Archive a disconnected account (rule 7)",
    responses=problems(404, 409),
)
async def archive(account_id: AccountId, uow: UoW, idempotency: Idempotency) -> AccountOut:
    async def act() -> AccountOut:
        return AccountOut.of(await lifecycle.archive(uow, account_id))

    return await idempotency.run(uow, None, 200, act)


# --- disconnects ----------------------------------------------------------------------------------


@router.get(
    "/accounts/{account_id}/disconnect-preview",
    dependencies=[requires("accounts:read")],
    tags=["disconnects"],
    summary="What disconnecting this account will do (rule 3)",
    responses=problems(404, 422),
)
async def disconnect_preview(account_id: AccountId, uow: UoW, request: Request) -> PreviewOut:
    peers: Peers = request.app.state.runtime.resources["peers"]
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
        "address release follow through Kafka. Follow `GET /disconnects/{id}` until `completed`."
    ),
    responses=problems(404, 409, 422),
)
async def disconnect_account(
    account_id: AccountId,
    uow: UoW,
    idempotency: Idempotency,
    step_timeout: StepTimeout,
    body: Annotated[DisconnectCreate | None, Body()] = None,
) -> DisconnectOut:
    async def disconnect() -> DisconnectOut:
        return DisconnectOut.of(
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
    state: Literal["pending", "stalled", "completed", "abandoned"] | None = None,
    sort: Annotated[str, _sort("requested_at, completed_at, deadline_at")] = "-requested_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DisconnectOut]:
    items, next_cursor = await disconnects.list_disconnects(
        uow, state, sort=sort, limit=limit, cursor=cursor
    )
    return Page(items=[DisconnectOut.of(item) for item in items], next_cursor=next_cursor)


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
    account_id: AccountId,
    uow: UoW,
    sort: Annotated[str, _sort("requested_at, completed_at")] = "-requested_at",
    limit: Limit = 50,
    cursor: Cursor = None,
) -> Page[DisconnectOut]:
    items, next_cursor = await disconnects.disconnects_of(
        uow, account_id, sort=sort, limit=limit, cursor=cursor
    )
    return Page(items=[DisconnectOut.of(item) for item in items], next_cursor=next_cursor)


# --- report ---------------------------------------------------------------------------------------


@router.get(
    "/reports/activations-disconnections",
    dependencies=[requires("accounts:read")],
    tags=["reports"],
    summary="Activations & Disconnections in a period (rule 8; default the last 12 months)",
    responses=problems(422),
)
async def activations_disconnections(
    uow: UoW,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    activations_sort: Annotated[
        str, _sort("activated_at, account_name, account_id")
    ] = "-activated_at",
    activations_account_type_id: UUID | None = None,
    activations_q: Search = None,
    disconnections_sort: Annotated[
        str,
        _sort("disconnected_at, account_name, account_id, final_invoice_total"),
    ] = "-disconnected_at",
    disconnections_account_type_id: UUID | None = None,
    disconnections_q: Search = None,
) -> ActivationsDisconnections:
    end = to or datetime.now(UTC)
    start = from_ or end - timedelta(days=365)
    if start >= end:
        raise Unprocessable("`from` must be before `to`.", start=start, end=end)
    activation_rows, disconnection_rows = await report.activations_and_disconnections(
        uow,
        start=start,
        end=end,
        activations_query=report.TableQuery(
            activations_sort, activations_account_type_id, activations_q
        ),
        disconnections_query=report.TableQuery(
            disconnections_sort, disconnections_account_type_id, disconnections_q
        ),
    )
    return ActivationsDisconnections(
        from_=start,
        to=end,
        activations=[ActivationRow(**row) for row in activation_rows],
        disconnections=[DisconnectionRow(**row) for row in disconnection_rows],
    )
