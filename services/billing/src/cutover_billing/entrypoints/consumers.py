"""Billing's Kafka consumers: its copy of accounts, and the final invoice of every disconnect."""

from __future__ import annotations

from cutover_billing.adapters.tables import known_accounts
from cutover_billing.service_layer import billing
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import AccountDisconnectRequestedV1
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED
from cutover_kit.directory import local_copy_handlers
from cutover_kit.runtime import ServiceRuntime


async def on_disconnect_requested(
    uow: BillingUnitOfWork, requests: list[tuple[CloudEvent, AccountDisconnectRequestedV1]]
) -> None:
    """Issue the final invoice (or answer not_required) and tell accounts."""
    await billing.issue_final_invoices(uow, requests)


def register(runtime: ServiceRuntime) -> None:
    runtime.consume("accounts-copy", local_copy_handlers(known_accounts))
    runtime.consume("final-invoice", {ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested})
