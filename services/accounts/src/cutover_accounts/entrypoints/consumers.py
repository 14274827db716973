"""Accounts' Kafka consumers: billing's and addresses' answers to a disconnect, and due
scheduled events."""

from __future__ import annotations

from datetime import timedelta

from cutover_accounts.service_layer import disconnects, scheduled
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import (
    DisconnectAddressReleasedV1,
    DisconnectBilledV1,
    ScheduledEventDueV1,
)
from cutover_contracts.topics import (
    DISCONNECT_ADDRESS_RELEASED,
    DISCONNECT_BILLED,
    SCHEDULED_EVENT_DUE,
)
from cutover_kit.runtime import ServiceRuntime


async def on_disconnect_billed(
    uow: AccountsUnitOfWork, answers: list[tuple[CloudEvent, DisconnectBilledV1]]
) -> None:
    """Store billing's final invoice (or not_required) on the disconnect."""
    await disconnects.record_final_invoices(uow, answers)


async def on_address_released(
    uow: AccountsUnitOfWork, answers: list[tuple[CloudEvent, DisconnectAddressReleasedV1]]
) -> None:
    """Store the released serviceable address (or none) on the disconnect."""
    await disconnects.record_address_releases(uow, answers)


def register(runtime: ServiceRuntime) -> None:
    step_timeout = timedelta(seconds=runtime.settings.disconnect_step_timeout_seconds)

    async def on_scheduled_event_due(
        uow: AccountsUnitOfWork, due: list[tuple[CloudEvent, ScheduledEventDueV1]]
    ) -> None:
        """Start the scheduled disconnects and status changes, or report why each was skipped."""
        await scheduled.apply_due_events(uow, due, step_timeout=step_timeout)

    # One consumer for both answers: they update the same disconnect rows (see cutover_kit.consumer).
    runtime.consume(
        "disconnect-answers",
        {
            DISCONNECT_BILLED: on_disconnect_billed,
            DISCONNECT_ADDRESS_RELEASED: on_address_released,
        },
    )
    runtime.consume("scheduled-events", {SCHEDULED_EVENT_DUE: on_scheduled_event_due})
