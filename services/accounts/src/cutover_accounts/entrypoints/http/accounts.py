"""Creating, listing, reading and editing accounts, their children and history; never deleting."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from cutover_accounts.adapters.queries import ACCOUNTS, HISTORY
from cutover_accounts.domain.errors import AccountsAreNeverDeleted
from cutover_accounts.entrypoints.http.common import (
    AccountId,
    OptionalAccountId,
    Search,
    UoW,
)
from cutover_accounts.entrypoints.schemas import (
    AccountCreate,
    AccountOut,
    AccountPatch,
    HistoryEntry,
)
from cutover_accounts.service_layer import (
    accounts,
)
from cutover_kit.auth import requires
from cutover_kit.errors import Unprocessable
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Instant, Page, PageRequest

router = APIRouter()


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
    page: Annotated[PageRequest, ACCOUNTS.query],
    account_status_id: UUID | None = None,
    account_type_id: UUID | None = None,
    parent_account_id: OptionalAccountId = None,
    q: Search = None,
    include_archived: bool = False,
    updated_since: Annotated[
        Instant | None,
        Query(
            description="Only accounts changed at or after this time (RFC 3339), by default in "
            "the order they changed (sort updated_at): how a late event consumer catches up "
            "before following the topics. An archive is a change: add include_archived=true"
        ),
    ] = None,
) -> Page[AccountOut]:
    filters = accounts.AccountFilter(
        account_status_id=account_status_id,
        account_type_id=account_type_id,
        parent_account_id=parent_account_id,
        q=q,
        include_archived=include_archived,
        updated_since=updated_since,
    )
    return Page.of(await accounts.list_accounts(uow, filters, page), AccountOut.of)


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
    account_id: AccountId, uow: UoW, page: Annotated[PageRequest, ACCOUNTS.query]
) -> Page[AccountOut]:
    return Page.of(await accounts.children(uow, account_id, page), AccountOut.of)


@router.get(
    "/accounts/{account_id}/history",
    dependencies=[requires("accounts:read")],
    tags=["accounts"],
    summary="Every lifecycle change, with time, actor, cause and correlation id",
    responses=problems(404, 422),
)
async def account_history(
    account_id: AccountId, uow: UoW, page: Annotated[PageRequest, HISTORY.query]
) -> Page[HistoryEntry]:
    return Page.of(await accounts.history(uow, account_id, page), HistoryEntry.model_validate)
