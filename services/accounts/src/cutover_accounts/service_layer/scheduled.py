"""Due scheduled events from the scheduler, applied with the same rules as the manual actions."""

from __future__ import annotations

from datetime import timedelta

from pydantic import ValidationError

from cutover_accounts.service_layer.accounts import apply_edit
from cutover_accounts.service_layer.disconnects import report_outcome, start_disconnect
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.events import ScheduledEventDueV1
from cutover_contracts.scheduled import (
    CHANGE_ACCOUNT_STATUS,
    DISCONNECT_ACCOUNT,
    ChangeAccountStatusPayload,
    DisconnectAccountPayload,
)
from cutover_kit import context
from cutover_kit.errors import DomainError


async def apply_due_event(
    uow: AccountsUnitOfWork, due: ScheduledEventDueV1, *, step_timeout: timedelta
) -> None:
    """Start what the event asks for, or record why not (skipped) and report it as failed; as the
    actor who scheduled it (events from before the scheduler carried one stay `system`'s)."""
    acting = context.actor.set(due.actor) if due.actor else None
    try:
        await _apply(uow, due, step_timeout=step_timeout)
    finally:
        if acting is not None:
            context.actor.reset(acting)


async def _apply(
    uow: AccountsUnitOfWork, due: ScheduledEventDueV1, *, step_timeout: timedelta
) -> None:
    cause = f"scheduled event {due.scheduled_event_id}"
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
    repository = uow.accounts
    if await repository.get(due.account_id) is not None:
        await repository.record_history(
            due.account_id,
            "scheduled_event_skipped",
            f"{cause} skipped: {reason}",
            scheduled_event_id=str(due.scheduled_event_id),
            event_type=due.event_type,
        )
    await report_outcome(uow, due.scheduled_event_id, due.account_id, reason=reason)
