"""The disconnect workflow, accounts' side.

1. `request_disconnect` moves the account to the Disconnect Account Status at once and writes
   `AccountDisconnectRequested` to the outbox, in one transaction.
2. Billing and addresses each answer with an event; `record_final_invoice` and
   `record_address_release` store the answer on the disconnect, under a row lock so the two answers,
   consumed concurrently, are applied one after the other.
3. Whichever answer arrives second completes the disconnect and writes `AccountDisconnected`.
A scheduled disconnect (a due `disconnect_account` event from the scheduler) is the same flow with
`source: scheduled`; its outcome goes back to the scheduler when it completes, or at once when the
account cannot be disconnected (already disconnected, archived, unknown), with the reason.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from uuid import UUID

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_accounts.adapters.tables import disconnects
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Disconnect, DisconnectSource
from cutover_contracts.events import (
    AccountDisconnectedV1,
    AccountDisconnectRequestedV1,
    DisconnectAddressReleasedV1,
    DisconnectBilledV1,
    ScheduledEventOutcomeV1,
)
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECT_REQUESTED,
    ACCOUNT_DISCONNECTED,
    SCHEDULED_EVENT_OUTCOME,
)
from cutover_kit.db import UnitOfWork
from cutover_kit.pagination import parse_sort

DISCONNECT_SORTS = {
    "requested_at": disconnects.c.requested_at,
    "completed_at": disconnects.c.completed_at,
}


async def request_disconnect(
    uow: UnitOfWork,
    account_id: int,
    *,
    reason: str | None = None,
    source: DisconnectSource = "manual",
    scheduled_event_id: UUID | None = None,
) -> Disconnect:
    async with uow:
        disconnect = await start_disconnect(
            uow, account_id, reason=reason, source=source, scheduled_event_id=scheduled_event_id
        )
        await uow.commit()
        return disconnect


async def start_disconnect(
    uow: UnitOfWork,
    account_id: int,
    *,
    reason: str | None,
    source: DisconnectSource,
    scheduled_event_id: UUID | None,
) -> Disconnect:
    """The disconnect inside an open unit of work (the HTTP and the scheduled paths share it)."""
    repository = AccountsRepository(uow.session)
    # The row lock serialises every lifecycle change of one account (disconnect, reactivate, archive).
    account = await repository.get(account_id, for_update=True)
    if account is None:
        raise errors.AccountNotFound(account_id)
    account.check_can_disconnect(await repository.pending_disconnect_id(account_id))
    status_id = await repository.disconnect_status_id()
    now = datetime.now(UTC)
    await repository.update_account(account_id, account_status_id=status_id, disconnected_at=now)
    disconnect = await repository.add_disconnect(
        id=uuid.uuid4(),
        account_id=account_id,
        source=source,
        scheduled_event_id=scheduled_event_id,
        reason=reason,
        state="pending",
        requested_at=now,
        status_id=status_id,
        final_invoice_state="pending",
        address_state="pending",
    )
    await repository.record_history(
        account_id,
        "disconnect_requested",
        reason or f"{source} disconnect",
        disconnect_id=str(disconnect.id),
        source=source,
        account_status_id=str(status_id),
    )
    await uow.publish(
        ACCOUNT_DISCONNECT_REQUESTED,
        AccountDisconnectRequestedV1(
            disconnect_id=disconnect.id,
            account_id=account_id,
            source=source,
            scheduled_event_id=scheduled_event_id,
            reason=reason,
            status_id=status_id,
            requested_at=now,
        ),
        account_id=account_id,
    )
    return disconnect


async def report_outcome(
    uow: UnitOfWork,
    scheduled_event_id: UUID,
    account_id: int,
    *,
    reason: str | None = None,
    disconnect_id: UUID | None = None,
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
    )


async def record_final_invoice(uow: UnitOfWork, answer: DisconnectBilledV1) -> None:
    repository = AccountsRepository(uow.session)
    disconnect = await _pending(repository, answer.disconnect_id)
    if disconnect is None or disconnect.final_invoice_state != "pending":
        return
    invoice = answer.final_invoice
    disconnect = await repository.update_disconnect(
        disconnect.id,
        final_invoice_state=answer.final_invoice_state,
        final_invoice_id=invoice.id if invoice else None,
        final_invoice_total=invoice.total if invoice else None,
        final_invoice_currency=invoice.currency if invoice else None,
    )
    await _complete_if_done(uow, repository, disconnect)


async def record_address_release(uow: UnitOfWork, answer: DisconnectAddressReleasedV1) -> None:
    repository = AccountsRepository(uow.session)
    disconnect = await _pending(repository, answer.disconnect_id)
    if disconnect is None or disconnect.address_state != "pending":
        return
    disconnect = await repository.update_disconnect(
        disconnect.id,
        address_state=answer.address_state,
        released_address_id=answer.released_address_id,
    )
    await _complete_if_done(uow, repository, disconnect)


async def _pending(repository: AccountsRepository, disconnect_id: UUID) -> Disconnect | None:
    disconnect = await repository.get_disconnect(disconnect_id, for_update=True)
    if disconnect is None or disconnect.state != "pending":
        return None
    return disconnect


async def _complete_if_done(
    uow: UnitOfWork, repository: AccountsRepository, disconnect: Disconnect
) -> None:
    if not disconnect.all_steps_done:
        return
    account = await repository.get(disconnect.account_id)
    assert account is not None  # a disconnect always references an existing account
    disconnect = await repository.update_disconnect(
        disconnect.id, state="completed", completed_at=datetime.now(UTC)
    )
    await repository.record_history(
        disconnect.account_id,
        "disconnected",
        "final invoice and address release done",
        disconnect_id=str(disconnect.id),
        final_invoice_id=str(disconnect.final_invoice_id) if disconnect.final_invoice_id else None,
        released_address_id=(
            str(disconnect.released_address_id) if disconnect.released_address_id else None
        ),
    )
    await uow.publish(
        ACCOUNT_DISCONNECTED,
        AccountDisconnectedV1(
            account_id=disconnect.account_id,
            disconnect_id=disconnect.id,
            source=disconnect.source,
            scheduled_event_id=disconnect.scheduled_event_id,
            reason=disconnect.reason,
            status_id=disconnect.status_id,
            disconnected_at=account.disconnected_at or disconnect.requested_at,
            final_invoice_id=disconnect.final_invoice_id,
            final_invoice_total=disconnect.final_invoice_total,
            currency=disconnect.final_invoice_currency,
            released_address_id=disconnect.released_address_id,
        ),
        account_id=disconnect.account_id,
    )
    if disconnect.scheduled_event_id is not None:
        await report_outcome(
            uow,
            disconnect.scheduled_event_id,
            disconnect.account_id,
            disconnect_id=disconnect.id,
        )


async def get_disconnect(uow: UnitOfWork, disconnect_id: UUID) -> Disconnect:
    async with uow:
        disconnect = await AccountsRepository(uow.session).get_disconnect(disconnect_id)
        if disconnect is None:
            raise errors.DisconnectNotFound(disconnect_id)
        return disconnect


async def disconnects_of(
    uow: UnitOfWork, account_id: int, *, sort: str, limit: int, cursor: str | None
) -> tuple[list[Disconnect], str | None]:
    order = parse_sort(sort, DISCONNECT_SORTS)
    async with uow:
        repository = AccountsRepository(uow.session)
        if await repository.get(account_id) is None:
            raise errors.AccountNotFound(account_id)
        return await repository.disconnects_of(account_id, order, limit=limit, cursor=cursor)
