"""The accounts HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Body, Path

from cutover_accounts.entrypoints.schemas import (
    AccountCreate,
    AccountOut,
    DisconnectCreate,
    DisconnectList,
    DisconnectOut,
)
from cutover_accounts.service_layer import accounts, disconnects
from cutover_kit.http import UoW
from cutover_kit.idempotency import IdempotencyKey, idempotent
from cutover_kit.openapi import problems

router = APIRouter()

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]


@router.post(
    "/accounts",
    status_code=201,
    tags=["accounts"],
    summary="Create an account",
    responses=problems(409, 422),
)
async def create_account(body: AccountCreate, uow: UoW, key: IdempotencyKey = None) -> AccountOut:
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

    return await idempotent(
        uow, key, scope="POST /accounts", request_body=body, status_code=201, action=create
    )


@router.get("/accounts/{account_id}", tags=["accounts"], responses=problems(404))
async def get_account(account_id: AccountId, uow: UoW) -> AccountOut:
    return AccountOut.of(await accounts.get_account(uow, account_id))


@router.post(
    "/accounts/{account_id}/disconnect",
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
    body: Annotated[DisconnectCreate | None, Body()] = None,
    key: IdempotencyKey = None,
) -> DisconnectOut:
    async def disconnect() -> DisconnectOut:
        return DisconnectOut.of(
            await disconnects.request_disconnect(
                uow, account_id, reason=body.reason if body else None
            )
        )

    return await idempotent(
        uow,
        key,
        scope=f"POST /accounts/{account_id}/disconnect",
        request_body=body,
        status_code=202,
        action=disconnect,
    )


@router.get("/disconnects/{disconnect_id}", tags=["disconnects"], responses=problems(404))
async def get_disconnect(disconnect_id: UUID, uow: UoW) -> DisconnectOut:
    return DisconnectOut.of(await disconnects.get_disconnect(uow, disconnect_id))


@router.get("/accounts/{account_id}/disconnects", tags=["disconnects"], responses=problems(404))
async def account_disconnects(account_id: AccountId, uow: UoW) -> DisconnectList:
    items = await disconnects.disconnects_of(uow, account_id)
    return DisconnectList(items=[DisconnectOut.of(item) for item in items])
