"""The scheduler's Kafka consumers: its copy of accounts, archived accounts' pending events, the
pending disconnects a started disconnect supersedes, and the outcome accounts reports for each due
event."""

from __future__ import annotations

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import (
    AccountArchivedV1,
    AccountDisconnectRequestedV1,
    ScheduledEventOutcomeV1,
)
from cutover_contracts.topics import (
    ACCOUNT_ARCHIVED,
    ACCOUNT_DISCONNECT_REQUESTED,
    SCHEDULED_EVENT_OUTCOME,
)
from cutover_kit.consumer import one_by_one
from cutover_kit.directory import local_copy_handlers
from cutover_kit.runtime import ServiceRuntime
from cutover_scheduler.adapters.tables import known_accounts
from cutover_scheduler.service_layer import scheduled_events
from cutover_scheduler.service_layer.unit_of_work import SchedulerUnitOfWork


async def on_outcome(
    uow: SchedulerUnitOfWork, _: CloudEvent, data: ScheduledEventOutcomeV1
) -> None:
    """Move the event to completed or failed, with the reason."""
    await scheduled_events.record_outcome(uow, data)


async def on_account_archived(
    uow: SchedulerUnitOfWork, _: CloudEvent, data: AccountArchivedV1
) -> None:
    """Cancel the archived account's pending events."""
    await scheduled_events.cancel_for_archived_account(uow, data)


async def on_disconnect_requested(
    uow: SchedulerUnitOfWork, requests: list[tuple[CloudEvent, AccountDisconnectRequestedV1]]
) -> None:
    """Cancel each account's other pending scheduled disconnects: its disconnect supersedes them."""
    await scheduled_events.cancel_superseded_disconnects(uow, [data for _, data in requests])


def register(runtime: ServiceRuntime) -> None:
    runtime.consume("accounts-copy", local_copy_handlers(known_accounts))
    runtime.consume("archived-accounts", {ACCOUNT_ARCHIVED: one_by_one(on_account_archived)})
    runtime.consume(
        "disconnect-requests",
        {ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested},
    )
    runtime.consume("outcomes", {SCHEDULED_EVENT_OUTCOME: one_by_one(on_outcome)})
