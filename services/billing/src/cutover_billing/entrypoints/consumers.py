"""Billing's Kafka consumers: its copy of accounts, and the final invoice of every disconnect."""

from __future__ import annotations

from cutover_billing.service_layer import billing
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import AccountCreatedV1, AccountDisconnectRequestedV1
from cutover_contracts.topics import ACCOUNT_CREATED, ACCOUNT_DISCONNECT_REQUESTED
from cutover_kit.db import UnitOfWork
from cutover_kit.runtime import ServiceRuntime


async def on_account_created(uow: UnitOfWork, _: CloudEvent, data: AccountCreatedV1) -> None:
    """Keep billing's local copy of the account."""
    await billing.remember_account(uow, data)


async def on_disconnect_requested(
    uow: UnitOfWork, _: CloudEvent, data: AccountDisconnectRequestedV1
) -> None:
    """Issue the final invoice (or answer not_required) and tell accounts."""
    await billing.issue_final_invoice(uow, data)


def register(runtime: ServiceRuntime) -> None:
    runtime.consume("account-created", {ACCOUNT_CREATED: on_account_created})
    runtime.consume("final-invoice", {ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested})
