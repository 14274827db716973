"""The disconnect workflow, accounts' side.

1. `request_disconnect` moves the account to the Disconnect Account Status at once and writes
   `AccountDisconnectRequested` to the outbox, in one transaction.
2. Billing and addresses each answer with an event; `record_final_invoices` and
   `record_address_releases` store a batch of answers on their disconnects, under the disconnects'
   row locks, so answers consumed concurrently are applied one after the other.
3. Whichever answer arrives second completes the disconnect and writes `AccountDisconnected`.
4. A step that has not answered by the disconnect's deadline (`CUTOVER_DISCONNECT_STEP_TIMEOUT_
   SECONDS` after the request or the latest retry) shows the disconnect as stalled. `retry_disconnect`
   publishes the request again (a new event id, the same disconnect id: billing and addresses answer
   a disconnect they have seen with what they did the first time); `abandon_disconnect` ends it, the
   account keeping the status it shows and no longer frozen. An answer arriving after an abandon is
   recorded on the disconnect and changes nothing else.
A scheduled disconnect (a due `disconnect_account` event from the scheduler) is the same flow with
`source: scheduled`; its outcome goes back to the scheduler when it completes, or at once when the
account cannot be disconnected (already disconnected, archived, unknown), with the reason.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from cutover_accounts.adapters.repository import AccountsRepository, HistoryEntry
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Disconnect, DisconnectSource
from cutover_accounts.service_layer import changes as publish
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import (
    AccountDisconnectAbandonedV1,
    AccountDisconnectedV1,
    AccountDisconnectRequestedV1,
    DisconnectAddressReleasedV1,
    DisconnectBilledV1,
    ScheduledEventOutcomeV1,
)
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECT_ABANDONED,
    ACCOUNT_DISCONNECT_REQUESTED,
    ACCOUNT_DISCONNECTED,
    SCHEDULED_EVENT_OUTCOME,
)
from cutover_kit import context
from cutover_kit.errors import AccountNotFound, DomainError
from cutover_kit.pagination import PageRequest


@dataclass(frozen=True)
class DisconnectOrder:
    """What starts one disconnect: an HTTP request, or a due scheduled event (with the actor who
    scheduled it and the event's correlation id; None: the current ones)."""

    account_id: int
    reason: str | None = None
    source: DisconnectSource = "manual"
    scheduled_event_id: UUID | None = None
    actor: str | None = None
    correlation_id: str | None = None


async def request_disconnect(
    uow: AccountsUnitOfWork,
    account_id: int,
    *,
    step_timeout: timedelta,
    reason: str | None = None,
    source: DisconnectSource = "manual",
    scheduled_event_id: UUID | None = None,
) -> Disconnect:
    async with uow:
        disconnect = await start_disconnect(
            uow,
            account_id,
            step_timeout=step_timeout,
            reason=reason,
            source=source,
            scheduled_event_id=scheduled_event_id,
        )
        await uow.commit()
        return disconnect


async def start_disconnect(
    uow: AccountsUnitOfWork,
    account_id: int,
    *,
    step_timeout: timedelta,
    reason: str | None,
    source: DisconnectSource,
    scheduled_event_id: UUID | None,
) -> Disconnect:
    """One disconnect inside an open unit of work (the HTTP and the scheduled paths share it), or
    the rule that refuses it raised."""
    order = DisconnectOrder(account_id, reason, source, scheduled_event_id)
    [started] = await start_disconnects(uow, [order], step_timeout=step_timeout)
    if isinstance(started, DomainError):
        raise started
    return started


async def start_disconnects(
    uow: AccountsUnitOfWork, orders: Sequence[DisconnectOrder], *, step_timeout: timedelta
) -> list[Disconnect | DomainError]:
    """Start disconnects inside an open unit of work, with the same few statements for one order
    (an HTTP request) as for a batch (due scheduled events): each order gets its disconnect or the
    rule that refuses it. Orders are checked in turn, each against its account as the orders before
    it left it, so two orders for one account in one batch start one disconnect."""
    repository = uow.accounts
    # The row locks serialise every lifecycle change of one account (disconnect, reactivate, archive).
    locked = await repository.lock_for_disconnects([order.account_id for order in orders])
    now = datetime.now(UTC)
    outcomes: list[Disconnect | DomainError] = []
    started: list[tuple[DisconnectOrder, UUID, Disconnect]] = []
    for order in orders:
        state = locked.get(order.account_id)
        try:
            if state is None:
                raise AccountNotFound(order.account_id)
            state.account.check_can_disconnect(
                state.pending_disconnect_id,
                last_disconnect_abandoned=state.last_disconnect_abandoned,
            )
        except DomainError as refusal:
            outcomes.append(refusal)
            continue
        disconnect = Disconnect(
            id=uuid.uuid4(),
            account_id=order.account_id,
            source=order.source,
            scheduled_event_id=order.scheduled_event_id,
            reason=order.reason,
            state="pending",
            requested_at=now,
            completed_at=None,
            status_id=state.disconnect_status_id,
            final_invoice_state="pending",
            final_invoice_id=None,
            final_invoice_total=None,
            final_invoice_currency=None,
            address_state="pending",
            released_address_id=None,
            deadline_at=now + step_timeout,
            retries=0,
            abandoned_at=None,
            abandoned_by=None,
            abandon_reason=None,
        )
        locked[order.account_id] = state._replace(pending_disconnect_id=disconnect.id)
        started.append((order, state.account.account_status_id, disconnect))
        outcomes.append(disconnect)
    if started:
        await _record_starts(uow, started, now)
    return outcomes


async def _record_starts(
    uow: AccountsUnitOfWork,
    started: list[tuple[DisconnectOrder, UUID, Disconnect]],
    now: datetime,
) -> None:
    """The accounts' new status, the disconnects, their history and their events, set-based."""
    await uow.accounts.record_disconnect_starts(
        [d for _, _, d in started],
        [
            HistoryEntry(
                d.account_id,
                "disconnect_requested",
                "scheduled" if d.source == "scheduled" else d.reason or "manual disconnect",
                {
                    "disconnect_id": str(d.id),
                    "source": d.source,
                    "account_status_id": str(d.status_id),
                    # A scheduled disconnect's cause is the schedule, its reason and event in the
                    # details (and its actor whoever scheduled it).
                    **(
                        {"scheduled_event_id": str(d.scheduled_event_id)}
                        | ({"reason": d.reason} if d.reason else {})
                        if d.source == "scheduled"
                        else {}
                    ),
                },
                order.correlation_id,
                order.actor,
            )
            for order, _, d in started
        ],
    )
    for order, from_status_id, d in started:
        with context.acting(order.actor, order.correlation_id):
            await _publish_request(uow, d)
            await publish.status_changed(
                uow,
                d.account_id,
                from_status_id=from_status_id,
                to_status_id=d.status_id,
                cause="disconnect",
                activation=False,
                at=now,
                disconnect_id=d.id,
                scheduled_event_id=d.scheduled_event_id,
            )


async def _publish_request(uow: AccountsUnitOfWork, disconnect: Disconnect) -> None:
    await uow.publish(
        ACCOUNT_DISCONNECT_REQUESTED,
        AccountDisconnectRequestedV1(
            disconnect_id=disconnect.id,
            account_id=disconnect.account_id,
            source=disconnect.source,
            scheduled_event_id=disconnect.scheduled_event_id,
            reason=disconnect.reason,
            status_id=disconnect.status_id,
            requested_at=disconnect.requested_at,
            actor=context.actor.get(),
        ),
        account_id=disconnect.account_id,
    )


async def retry_disconnect(
    uow: AccountsUnitOfWork, disconnect_id: UUID, *, step_timeout: timedelta
) -> Disconnect:
    """Ask billing and addresses again for a pending (typically stalled) disconnect: the same
    disconnect id under a new event id, and a new deadline. A step already done stays done."""
    async with uow:
        repository = uow.accounts
        disconnect = await _locked(repository, disconnect_id)
        disconnect.check_pending()
        now = datetime.now(UTC)
        disconnect = await repository.update_disconnect(
            disconnect_id, retries=disconnect.retries + 1, deadline_at=now + step_timeout
        )
        await repository.record_history(
            disconnect.account_id,
            "disconnect_retried",
            f"retry {disconnect.retries} of disconnect {disconnect_id}",
            disconnect_id=str(disconnect_id),
            pending_steps=disconnect.pending_steps,
        )
        await _publish_request(uow, disconnect)
        await uow.commit()
        return disconnect


async def abandon_disconnect(
    uow: AccountsUnitOfWork, disconnect_id: UUID, *, reason: str
) -> Disconnect:
    """End a pending disconnect without its missing steps: the account keeps the status it shows
    and is no longer frozen; a scheduled disconnect's event is reported failed."""
    async with uow:
        repository = uow.accounts
        disconnect = await _locked(repository, disconnect_id)
        disconnect.check_pending()
        now, actor = datetime.now(UTC), context.actor.get()
        disconnect = await repository.update_disconnect(
            disconnect_id,
            state="abandoned",
            abandoned_at=now,
            abandoned_by=actor,
            abandon_reason=reason,
        )
        await repository.record_history(
            disconnect.account_id,
            "disconnect_abandoned",
            reason,
            disconnect_id=str(disconnect_id),
            pending_steps=disconnect.pending_steps,
        )
        await uow.publish(
            ACCOUNT_DISCONNECT_ABANDONED,
            AccountDisconnectAbandonedV1(
                account_id=disconnect.account_id,
                disconnect_id=disconnect_id,
                source=disconnect.source,
                scheduled_event_id=disconnect.scheduled_event_id,
                status_id=disconnect.status_id,
                pending_steps=disconnect.pending_steps,
                reason=reason,
                abandoned_by=actor,
                abandoned_at=now,
            ),
            account_id=disconnect.account_id,
        )
        if disconnect.scheduled_event_id is not None:
            await report_outcome(
                uow,
                disconnect.scheduled_event_id,
                disconnect.account_id,
                reason=f"disconnect {disconnect_id} abandoned by {actor}: {reason}",
                disconnect_id=disconnect_id,
            )
        await uow.commit()
        return disconnect


async def _locked(repository: AccountsRepository, disconnect_id: UUID) -> Disconnect:
    disconnect = await repository.lock_disconnect(disconnect_id)
    if disconnect is None:
        raise errors.DisconnectNotFound(disconnect_id)
    return disconnect


async def report_outcome(
    uow: AccountsUnitOfWork,
    scheduled_event_id: UUID,
    account_id: int,
    *,
    reason: str | None = None,
    disconnect_id: UUID | None = None,
    correlation_id: str | None = None,
) -> None:
    """Tell the scheduler what became of its event: completed, or failed with `reason`."""
    await uow.publish(
        SCHEDULED_EVENT_OUTCOME,
        ScheduledEventOutcomeV1(
            scheduled_event_id=scheduled_event_id,
            account_id=account_id,
            outcome="failed" if reason else "completed",
            reason=reason,
            disconnect_id=disconnect_id,
        ),
        account_id=account_id,
        correlation_id=correlation_id,
    )


async def record_final_invoices(
    uow: AccountsUnitOfWork, answers: list[tuple[CloudEvent, DisconnectBilledV1]]
) -> None:
    """Store billing's answers (final invoice issued or not required) on their disconnects."""
    await _record_answers(
        uow,
        answers,
        "final_invoice_state",
        lambda answer: {
            "final_invoice_state": answer.final_invoice_state,
            "final_invoice_id": answer.final_invoice.id if answer.final_invoice else None,
            "final_invoice_total": answer.final_invoice.total if answer.final_invoice else None,
            "final_invoice_currency": (
                answer.final_invoice.currency if answer.final_invoice else None
            ),
        },
    )


async def record_address_releases(
    uow: AccountsUnitOfWork, answers: list[tuple[CloudEvent, DisconnectAddressReleasedV1]]
) -> None:
    """Store addresses' answers (address released or none) on their disconnects."""
    await _record_answers(
        uow,
        answers,
        "address_state",
        lambda answer: {
            "address_state": answer.address_state,
            "released_address_id": answer.released_address_id,
        },
    )


async def _record_answers(
    uow: AccountsUnitOfWork,
    answers: Sequence[tuple[CloudEvent, DisconnectBilledV1 | DisconnectAddressReleasedV1]],
    step: str,
    values_of: Callable[[Any], dict[str, Any]],
) -> None:
    """Apply one step's answers to their unfinished disconnects (locked together, in id order), and
    complete the pending ones whose other step is done too. An answer seen again finds its step
    done, or its disconnect completed, and changes nothing; one for an abandoned disconnect is
    recorded on it and completes nothing."""
    repository = uow.accounts
    pending = await repository.unfinished_disconnects(
        [answer.disconnect_id for _, answer in answers]
    )
    now = datetime.now(UTC)
    changed: dict[UUID, tuple[Disconnect, str | None]] = {}
    for event, answer in answers:
        disconnect = pending.get(answer.disconnect_id)
        if disconnect is None or getattr(disconnect, step) != "pending":
            continue
        disconnect = replace(disconnect, **values_of(answer))
        if disconnect.state == "pending" and disconnect.all_steps_done:
            disconnect = replace(disconnect, state="completed", completed_at=now)
        pending[disconnect.id] = disconnect
        changed[disconnect.id] = (disconnect, event.correlationid)
    if not changed:
        return
    # The step's answers and the completions they bring: one statement for the batch.
    columns = [*values_of(answers[0][1]), "state", "completed_at"]
    await repository.update_disconnects(
        [
            {"id": disconnect.id, **{column: getattr(disconnect, column) for column in columns}}
            for disconnect, _ in changed.values()
        ]
    )
    await _complete(
        uow,
        repository,
        [
            (disconnect, correlation_id)
            for disconnect, correlation_id in changed.values()
            if disconnect.state == "completed"
        ],
    )


async def _complete(
    uow: AccountsUnitOfWork,
    repository: AccountsRepository,
    done: list[tuple[Disconnect, str | None]],
) -> None:
    """What follows a disconnect's completion (already written on it): history,
    `AccountDisconnected`, and the scheduler's outcome for a scheduled one; each under the
    correlation id of its last answer."""
    if not done:
        return
    disconnected_at = await repository.disconnected_at([d.account_id for d, _ in done])
    await repository.record_histories(
        [
            HistoryEntry(
                d.account_id,
                "disconnected",
                "final invoice and address release done",
                {
                    "disconnect_id": str(d.id),
                    "final_invoice_id": str(d.final_invoice_id) if d.final_invoice_id else None,
                    "released_address_id": (
                        str(d.released_address_id) if d.released_address_id else None
                    ),
                },
                correlation_id,
            )
            for d, correlation_id in done
        ]
    )
    for d, correlation_id in done:
        await uow.publish(
            ACCOUNT_DISCONNECTED,
            AccountDisconnectedV1(
                account_id=d.account_id,
                disconnect_id=d.id,
                source=d.source,
                scheduled_event_id=d.scheduled_event_id,
                reason=d.reason,
                status_id=d.status_id,
                disconnected_at=disconnected_at.get(d.account_id) or d.requested_at,
                final_invoice_id=d.final_invoice_id,
                final_invoice_total=d.final_invoice_total,
                currency=d.final_invoice_currency,
                released_address_id=d.released_address_id,
            ),
            account_id=d.account_id,
            correlation_id=correlation_id,
        )
        if d.scheduled_event_id is not None:
            await report_outcome(
                uow,
                d.scheduled_event_id,
                d.account_id,
                disconnect_id=d.id,
                correlation_id=correlation_id,
            )


async def get_disconnect(uow: AccountsUnitOfWork, disconnect_id: UUID) -> Disconnect:
    async with uow:
        disconnect = await uow.accounts.get_disconnect(disconnect_id)
        if disconnect is None:
            raise errors.DisconnectNotFound(disconnect_id)
        return disconnect


async def disconnects_of(
    uow: AccountsUnitOfWork, account_id: int, page: PageRequest
) -> tuple[list[Disconnect], str | None]:
    async with uow:
        repository = uow.accounts
        if await repository.get(account_id) is None:
            raise AccountNotFound(account_id)
        return await repository.disconnects_of(account_id, page)


async def list_disconnects(
    uow: AccountsUnitOfWork, state: str | None, page: PageRequest
) -> tuple[list[Disconnect], str | None]:
    async with uow:
        return await uow.accounts.list_disconnects(state, page)


async def count_stalled(uow: AccountsUnitOfWork) -> int:
    async with uow:
        return await uow.accounts.count_stalled()
