"""Accounts' Kafka consumers: the answers of billing and addresses to a disconnect request."""

from __future__ import annotations

from cutover_accounts.service_layer import disconnects
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import DisconnectAddressReleasedV1, DisconnectBilledV1
from cutover_contracts.topics import DISCONNECT_ADDRESS_RELEASED, DISCONNECT_BILLED
from cutover_kit.db import UnitOfWork
from cutover_kit.runtime import ServiceRuntime


async def on_disconnect_billed(uow: UnitOfWork, _: CloudEvent, data: DisconnectBilledV1) -> None:
    """Store billing's final invoice (or not_required) on the disconnect."""
    await disconnects.record_final_invoice(uow, data)


async def on_address_released(
    uow: UnitOfWork, _: CloudEvent, data: DisconnectAddressReleasedV1
) -> None:
    """Store the released serviceable address (or none) on the disconnect."""
    await disconnects.record_address_release(uow, data)


def register(runtime: ServiceRuntime) -> None:
    # One consumer for both answers: they update the same disconnect rows (see cutover_kit.consumer).
    runtime.consume(
        "disconnect-answers",
        {DISCONNECT_BILLED: on_disconnect_billed, DISCONNECT_ADDRESS_RELEASED: on_address_released},
    )
