from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from cutover_addresses.domain import errors
from cutover_addresses.domain.model import (
    ServiceableAddress,
    check_holds_no_address,
    check_may_hold_address,
    normalise,
    search_key,
)
from cutover_addresses.service_layer.unit_of_work import AddressesUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import AccountDisconnectRequestedV1, DisconnectAddressReleasedV1
from cutover_contracts.topics import DISCONNECT_ADDRESS_RELEASED
from cutover_kit.directory import AccountsDirectory, require_active_account
from cutover_kit.pagination import PageRequest


async def create_address(
    uow: AddressesUnitOfWork,
    *,
    line1: str,
    line2: str | None,
    city: str,
    subdivision: str,
    zip: str,
    country: str,
    latitude: float | None,
    longitude: float | None,
) -> ServiceableAddress:
    key = normalise(line1, line2, city, subdivision, zip, country)
    async with uow:
        repository = uow.addresses
        address = await repository.add(
            key,
            line1=line1,
            line2=line2,
            city=city,
            subdivision=subdivision,
            zip=zip,
            country=country,
            latitude=latitude,
            longitude=longitude,
        )
        if address is None:
            raise errors.DuplicateAddress(await repository.id_of_normalised(key))
        await uow.commit()
        return address


async def get_address(uow: AddressesUnitOfWork, address_id: UUID) -> ServiceableAddress:
    async with uow:
        address = await uow.addresses.get(address_id)
        if address is None:
            raise errors.AddressNotFound(address_id)
        return address


async def address_of_account(uow: AddressesUnitOfWork, account_id: int) -> ServiceableAddress:
    async with uow:
        repository = uow.addresses
        address_id = await repository.address_of(account_id)
        address = await repository.get(address_id) if address_id else None
        if address is None:
            raise errors.AccountHasNoAddress(account_id)
        return address


async def attach_account(
    uow: AddressesUnitOfWork, directory: AccountsDirectory, address_id: UUID, account_id: int
) -> ServiceableAddress:
    async with uow:
        repository = uow.addresses
        facts = await require_active_account(repository.accounts, directory, account_id)
        # Serialise attaches and releases of one account: it never ends up on two addresses, and
        # an attach either precedes the disconnect's release (which frees it) or sees it.
        await repository.accounts.lock(account_id)
        check_may_hold_address(
            account_id,
            disconnected=bool(facts and facts.disconnected)
            or await repository.account_disconnected(account_id),
        )
        # The address row lock settles two concurrent attaches to one address: one wins, one 409.
        address = await repository.lock(address_id)
        if address is None:
            raise errors.AddressNotFound(address_id)
        address.check_free()
        check_holds_no_address(account_id, await repository.address_of(account_id))
        await repository.attach(address_id, account_id)
        await uow.commit()
        return replace(address, account_id=account_id)


async def list_addresses(
    uow: AddressesUnitOfWork, available: bool | None, q: str | None, page: PageRequest
) -> tuple[list[ServiceableAddress], str | None]:
    async with uow:
        return await uow.addresses.list_addresses(available, search_key(q) if q else None, page)


async def release_by_hand(uow: AddressesUnitOfWork, address_id: UUID) -> ServiceableAddress:
    async with uow:
        repository = uow.addresses
        address = await repository.lock(address_id)
        if address is None:
            raise errors.AddressNotFound(address_id)
        address.check_held()
        await repository.release(address_id, address.account_id)
        await uow.commit()
        return replace(address, account_id=None)


async def address_history(
    uow: AddressesUnitOfWork, account_id: int, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    async with uow:
        return await uow.addresses.history_of_account(account_id, page)


async def release_for_disconnects(
    uow: AddressesUnitOfWork, requests: list[tuple[CloudEvent, AccountDisconnectRequestedV1]]
) -> None:
    """Release each disconnected account's address; a disconnect seen again is answered with the
    same address. A batch takes a few statements whatever its size."""
    repository = uow.addresses
    await repository.mark_disconnected(
        [(request.account_id, request.requested_at) for _, request in requests]
    )
    released = await repository.released_by([request.disconnect_id for _, request in requests])
    released |= await repository.release_accounts(
        [
            (request.account_id, request.disconnect_id)
            for _, request in requests
            if request.disconnect_id not in released
        ]
    )
    for event, request in requests:
        address_id = released.get(request.disconnect_id)
        await uow.answer(
            event,
            DISCONNECT_ADDRESS_RELEASED,
            DisconnectAddressReleasedV1(
                disconnect_id=request.disconnect_id,
                account_id=request.account_id,
                address_state="released" if address_id else "none",
                released_address_id=address_id,
            ),
            account_id=request.account_id,
        )


async def forget_disconnect(
    uow: AddressesUnitOfWork, account_id: int, activated_at: datetime
) -> None:
    """A reactivated account may hold an address again."""
    await uow.addresses.mark_reactivated(account_id, activated_at)
