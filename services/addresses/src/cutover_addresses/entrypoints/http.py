"""The addresses HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from cutover_addresses.entrypoints.schemas import AddressCreate, AddressOut, AttachAccount
from cutover_addresses.service_layer import addresses
from cutover_kit.http import Directory, UoW
from cutover_kit.idempotency import IdempotencyKey, idempotent
from cutover_kit.openapi import problems

router = APIRouter(tags=["serviceable addresses"])


@router.post("/serviceable-addresses", status_code=201, responses=problems(409, 422))
async def create_address(body: AddressCreate, uow: UoW, key: IdempotencyKey = None) -> AddressOut:
    async def create() -> AddressOut:
        return AddressOut.of(await addresses.create_address(uow, **body.model_dump()))

    return await idempotent(
        uow,
        key,
        scope="POST /serviceable-addresses",
        request_body=body,
        status_code=201,
        action=create,
    )


@router.get("/serviceable-addresses/{address_id}", responses=problems(404))
async def get_address(address_id: UUID, uow: UoW) -> AddressOut:
    return AddressOut.of(await addresses.get_address(uow, address_id))


@router.put("/serviceable-addresses/{address_id}/account", responses=problems(404, 409, 422))
async def attach_account(
    address_id: UUID, body: AttachAccount, uow: UoW, directory: Directory
) -> AddressOut:
    return AddressOut.of(
        await addresses.attach_account(uow, directory, address_id, body.account_id)
    )


@router.get("/accounts/{account_id}/serviceable-address", responses=problems(404, 422))
async def address_of_account(
    account_id: Annotated[int, Path(gt=0, le=2**63 - 1)], uow: UoW
) -> AddressOut:
    return AddressOut.of(await addresses.address_of_account(uow, account_id))
