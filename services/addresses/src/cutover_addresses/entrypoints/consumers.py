"""Addresses' Kafka consumers: its copy of accounts, and the release of a disconnected account."""

from __future__ import annotations

from cutover_addresses.adapters.tables import known_accounts
from cutover_addresses.service_layer import addresses
from cutover_addresses.service_layer.unit_of_work import AddressesUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import AccountDisconnectRequestedV1, AccountReactivatedV1
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED, ACCOUNT_REACTIVATED
from cutover_kit.consumer import one_by_one
from cutover_kit.directory import local_copy_handlers
from cutover_kit.runtime import ServiceRuntime


async def on_disconnect_requested(
    uow: AddressesUnitOfWork, requests: list[tuple[CloudEvent, AccountDisconnectRequestedV1]]
) -> None:
    """Release the account's serviceable address (or answer none) and tell accounts."""
    await addresses.release_for_disconnects(uow, requests)


async def on_account_reactivated(
    uow: AddressesUnitOfWork, _: CloudEvent, data: AccountReactivatedV1
) -> None:
    """The account is active again: it may hold a serviceable address."""
    await addresses.forget_disconnect(uow, data.account_id, data.activated_at)


def register(runtime: ServiceRuntime) -> None:
    runtime.consume(
        "accounts-copy",
        {
            **local_copy_handlers(known_accounts),
            ACCOUNT_REACTIVATED: one_by_one(on_account_reactivated),
        },
    )
    runtime.consume("address-release", {ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested})
