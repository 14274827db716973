"""Reactivate and archive a disconnected account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from cutover_accounts.entrypoints.http.common import (
    AccountId,
    UoW,
)
from cutover_accounts.entrypoints.schemas import (
    AccountOut,
    ReactivateBody,
)
from cutover_accounts.service_layer import (
    lifecycle,
)
from cutover_kit.auth import requires
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems

router = APIRouter()


@router.post(
    "/accounts/{account_id}/reactivate",
    dependencies=[requires("accounts:lifecycle")],
    tags=["lifecycle"],
    summary="Reactivate a disconnected account",
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
    summary="Archive a disconnected account in a non-activating status",
    responses=problems(404, 409),
)
async def archive(account_id: AccountId, uow: UoW, idempotency: Idempotency) -> AccountOut:
    async def act() -> AccountOut:
        return AccountOut.of(await lifecycle.archive(uow, account_id))

    return await idempotency.run(uow, None, 200, act)
