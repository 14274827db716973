"""Due scheduled events from the scheduler, applied with the same rules as the manual actions."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from cutover_accounts.service_layer.accounts import apply_edit
from cutover_accounts.service_layer.disconnects import (
    DisconnectOrder,
    report_outcome,
    start_disconnect,
    start_disconnects,
)
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import ScheduledEventDueV1
from cutover_contracts.scheduled import (
    CHANGE_ACCOUNT_STATUS,
    DISCONNECT_ACCOUNT,
    ChangeAccountStatusPayload,
    DisconnectAccountPayload,
)
from cutover_kit import context
from cutover_kit.errors import AccountNotFound, DomainError


async def apply_due_events(
    uow: AccountsUnitOfWork,
    received: list[tuple[CloudEvent, ScheduledEventDueV1]],
    *,
    step_timeout: timedelta,
) -> None:
    """Apply a consumed batch of due events in their order, each as the actor who scheduled it
    (events from before the scheduler carried one stay `system`'s). A month-end run is thousands of due
    disconnects at one instant: each run of consecutive ones starts with a few set-based statements
    (`start_disconnects`) instead of a savepoint and six statements each; any other event is
    applied alone between the runs, so an account's events keep their order."""
    run: list[tuple[CloudEvent, ScheduledEventDueV1, DisconnectAccountPayload]] = []
    for event, due in received:
        payload = _disconnect_payload(due)
        if payload is not None:
            run.append((event, due, payload))
            continue
        await _start_scheduled_disconnects(uow, run, step_timeout=step_timeout)
        run = []
        with context.acting(due.actor, event.correlationid):
            await _apply(uow, due, step_timeout=step_timeout)
    await _start_scheduled_disconnects(uow, run, step_timeout=step_timeout)


def _disconnect_payload(due: ScheduledEventDueV1) -> DisconnectAccountPayload | None:
    """The payload of a well-formed due disconnect, else None (applied alone, refused there)."""
    if due.event_type != DISCONNECT_ACCOUNT:
        return None
    try:
        return DisconnectAccountPayload.model_validate(due.payload)
    except ValidationError:
        return None


async def _start_scheduled_disconnects(
    uow: AccountsUnitOfWork,
    run: list[tuple[CloudEvent, ScheduledEventDueV1, DisconnectAccountPayload]],
    *,
    step_timeout: timedelta,
) -> None:
    """Start the run's disconnects; each refused one is skipped and reported failed, as `_apply`
    does for one. The outcome of a started one is reported when it completes."""
    if not run:
        return
    started = await start_disconnects(
        uow,
        [
            DisconnectOrder(
                due.account_id,
                payload.reason,
                "scheduled",
                due.scheduled_event_id,
                actor=due.actor,
                correlation_id=event.correlationid,
            )
            for event, due, payload in run
        ],
        step_timeout=step_timeout,
    )
    for (event, due, _), outcome in zip(run, started, strict=True):
        if isinstance(outcome, DomainError):
            with context.acting(due.actor, event.correlationid):
                await _skipped(
                    uow, due, outcome.detail, known=not isinstance(outcome, AccountNotFound)
                )


async def _apply(
    uow: AccountsUnitOfWork, due: ScheduledEventDueV1, *, step_timeout: timedelta
) -> None:
    """Start what one event asks for, or record why not (skipped) and report it as failed."""
    try:
        async with uow.savepoint():
            if due.event_type == DISCONNECT_ACCOUNT:
                payload = DisconnectAccountPayload.model_validate(due.payload)
                await start_disconnect(
                    uow,
                    due.account_id,
                    step_timeout=step_timeout,
                    reason=payload.reason,
                    source="scheduled",
                    scheduled_event_id=due.scheduled_event_id,
                )
                return  # the outcome is reported when the disconnect completes
            if due.event_type == CHANGE_ACCOUNT_STATUS:
                change = ChangeAccountStatusPayload.model_validate(due.payload)
                await apply_edit(
                    uow,
                    due.account_id,
                    account_status_id=change.account_status_id,
                    scheduled_event_id=due.scheduled_event_id,
                )
                await report_outcome(uow, due.scheduled_event_id, due.account_id)
                return
            reason = f"unknown event type {due.event_type!r}"
    except (DomainError, ValidationError) as refusal:
        reason = (
            refusal.detail if isinstance(refusal, DomainError) else f"invalid payload: {refusal}"
        )
    await _skipped(uow, due, reason, known=await uow.accounts.get(due.account_id) is not None)


async def _skipped(
    uow: AccountsUnitOfWork, due: ScheduledEventDueV1, reason: str, *, known: bool
) -> None:
    """Record on a `known` account why its due event was skipped; report the event failed."""
    if known:
        await uow.accounts.record_history(
            due.account_id,
            "scheduled_event_skipped",
            f"scheduled event {due.scheduled_event_id} skipped: {reason}",
            scheduled_event_id=str(due.scheduled_event_id),
            event_type=due.event_type,
        )
    await report_outcome(uow, due.scheduled_event_id, due.account_id, reason=reason)
