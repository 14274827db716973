"""Addresses' rules on a fake unit of work: an address serves one account, an account holds one
address, a disconnected account holds none, only a held address is released."""

from __future__ import annotations

import uuid

import pytest

from cutover_addresses.adapters.repository import AddressesRepository
from cutover_addresses.domain import errors
from cutover_addresses.service_layer import addresses
from tests.unit.fakes.addresses import FakeAddressesRepository, FakeAddressesUnitOfWork
from tests.unit.fakes.known_accounts import NoDirectory

ACCOUNT, OTHER = 7, 8


@pytest.fixture
def uow() -> FakeAddressesUnitOfWork:
    return FakeAddressesUnitOfWork(ACCOUNT, OTHER)


async def attach(uow: FakeAddressesUnitOfWork, address_id: object, account_id: int) -> None:
    await addresses.attach_account(uow, NoDirectory(), address_id, account_id)  # type: ignore[arg-type]


async def test_a_free_address_is_attached_to_an_account(uow: FakeAddressesUnitOfWork) -> None:
    address = uow.addresses.given_address()
    await attach(uow, address.id, ACCOUNT)
    assert uow.addresses.addresses[address.id].account_id == ACCOUNT
    assert uow.commits == 1


async def test_attaching_an_address_that_serves_another_account_is_refused(
    uow: FakeAddressesUnitOfWork,
) -> None:
    # Given an address serving another account
    address = uow.addresses.given_address(account_id=OTHER)
    # When it is attached to this account
    # Then it is refused, naming the holder, and the holder keeps it
    with pytest.raises(errors.AddressTaken) as refusal:
        await attach(uow, address.id, ACCOUNT)
    assert refusal.value.extra["holder_account_id"] == OTHER
    assert uow.addresses.addresses[address.id].account_id == OTHER


async def test_an_account_that_holds_an_address_cannot_take_a_second(
    uow: FakeAddressesUnitOfWork,
) -> None:
    held = uow.addresses.given_address(account_id=ACCOUNT)
    second = uow.addresses.given_address()
    with pytest.raises(errors.AccountHasAddress) as refusal:
        await attach(uow, second.id, ACCOUNT)
    assert refusal.value.extra["address_id"] == held.id
    assert uow.addresses.addresses[second.id].account_id is None


async def test_a_disconnected_account_cannot_take_an_address(
    uow: FakeAddressesUnitOfWork,
) -> None:
    # Given a disconnected account
    uow.addresses.disconnected.add(ACCOUNT)
    address = uow.addresses.given_address()
    # When an address is attached to it
    # Then it is refused: reactivate it first
    with pytest.raises(errors.AccountDisconnected):
        await attach(uow, address.id, ACCOUNT)
    assert uow.addresses.addresses[address.id].account_id is None


async def test_attaching_an_unknown_address_is_refused(uow: FakeAddressesUnitOfWork) -> None:
    with pytest.raises(errors.AddressNotFound):
        await attach(uow, uuid.uuid4(), ACCOUNT)


async def test_releasing_by_hand_frees_the_address(uow: FakeAddressesUnitOfWork) -> None:
    address = uow.addresses.given_address(account_id=ACCOUNT)
    released = await addresses.release_by_hand(uow, address.id)  # type: ignore[arg-type]
    assert released.account_id is None
    assert uow.addresses.addresses[address.id].account_id is None


async def test_releasing_a_free_address_is_refused(uow: FakeAddressesUnitOfWork) -> None:
    address = uow.addresses.given_address()
    with pytest.raises(errors.AddressFree):
        await addresses.release_by_hand(uow, address.id)  # type: ignore[arg-type]


def test_the_fake_repository_answers_like_the_real_one() -> None:
    fake = {
        name
        for name in vars(FakeAddressesRepository)
        if not name.startswith("_") and name != "given_address"
    }
    assert fake <= set(dir(AddressesRepository))
