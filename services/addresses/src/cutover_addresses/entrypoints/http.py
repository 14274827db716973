"""The addresses HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from cutover_addresses.adapters.queries import ADDRESSES, HISTORY
from cutover_addresses.entrypoints.schemas import (
    AddressCreate,
    AddressOut,
    AttachAccount,
    HistoryEntry,
)
from cutover_addresses.service_layer import addresses
from cutover_addresses.service_layer.unit_of_work import AddressesUnitOfWork
from cutover_kit.auth import requires
from cutover_kit.http import Directory, unit_of_work
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Page, PageRequest

# The route dependency, typed with this service's repositories.
UoW = Annotated[AddressesUnitOfWork, Depends(unit_of_work)]

router = APIRouter(tags=["serviceable addresses"])

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]


@router.post(
    "/serviceable-addresses",
    dependencies=[requires("addresses:write")],
    status_code=201,
    responses=problems(409, 422),
)
async def create_address(body: AddressCreate, uow: UoW, idempotency: Idempotency) -> AddressOut:
    async def create() -> AddressOut:
        return AddressOut.of(await addresses.create_address(uow, **body.model_dump()))

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/serviceable-addresses", dependencies=[requires("addresses:read")], responses=problems(422)
)
async def list_addresses(
    uow: UoW,
    page: Annotated[PageRequest, ADDRESSES.query],
    available: Annotated[bool | None, Query(description="Only free, or only taken")] = None,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="Text search")] = None,
) -> Page[AddressOut]:
    return Page.of(await addresses.list_addresses(uow, available, q, page), AddressOut.of)


@router.get(
    "/serviceable-addresses/{address_id}",
    dependencies=[requires("addresses:read")],
    responses=problems(404),
)
async def get_address(address_id: UUID, uow: UoW) -> AddressOut:
    return AddressOut.of(await addresses.get_address(uow, address_id))


@router.put(
    "/serviceable-addresses/{address_id}/account",
    dependencies=[requires("addresses:write")],
    responses=problems(404, 409, 422),
)
async def attach_account(
    address_id: UUID,
    body: AttachAccount,
    uow: UoW,
    directory: Directory,
    idempotency: Idempotency,
) -> AddressOut:
    async def attach() -> AddressOut:
        return AddressOut.of(
            await addresses.attach_account(uow, directory, address_id, body.account_id)
        )

    return await idempotency.run(uow, body, 200, attach)


@router.get(
    "/accounts/{account_id}/serviceable-address",
    dependencies=[requires("addresses:read")],
    responses=problems(404, 422),
)
async def address_of_account(account_id: AccountId, uow: UoW) -> AddressOut:
    return AddressOut.of(await addresses.address_of_account(uow, account_id))


@router.delete(
    "/serviceable-addresses/{address_id}/account",
    dependencies=[requires("addresses:write")],
    summary="Release the address by hand",
    responses=problems(404, 409, 422),
)
async def release_address(address_id: UUID, uow: UoW) -> AddressOut:
    return AddressOut.of(await addresses.release_by_hand(uow, address_id))


@router.get(
    "/accounts/{account_id}/address-history",
    dependencies=[requires("addresses:read")],
    responses=problems(422),
)
async def address_history(
    account_id: AccountId, uow: UoW, page: Annotated[PageRequest, HISTORY.query]
) -> Page[HistoryEntry]:
    found = await addresses.address_history(uow, account_id, page)
    return Page.of(found, HistoryEntry.model_validate)
