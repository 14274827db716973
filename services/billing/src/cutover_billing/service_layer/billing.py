"""Debits, regular invoices and the final invoice of a disconnect.

Every invoicing of an account first locks the account's row in `known_accounts`, so a regular
invoice run, a final invoice and a debit posted meanwhile are applied one after the other: each
uninvoiced debit ends on exactly one invoice, and a debit posted during a disconnect is either on
the final invoice or still uninvoiced afterwards.
"""

from __future__ import annotations

import uuid

from cutover_billing.adapters.repository import BillingRepository
from cutover_billing.domain import errors
from cutover_billing.domain.model import (
    Debit,
    Invoice,
    check_currency,
    check_something_to_invoice,
)
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_contracts.envelope import CloudEvent
from cutover_contracts.events import (
    AccountDisconnectRequestedV1,
    DisconnectBilledV1,
    FinalInvoice,
)
from cutover_contracts.topics import DISCONNECT_BILLED
from cutover_kit.directory import AccountsDirectory, require_active_account
from cutover_kit.pagination import PageRequest


async def _lock_active_account(
    repository: BillingRepository, directory: AccountsDirectory, account_id: int
) -> None:
    await require_active_account(repository.accounts, directory, account_id)
    await repository.accounts.lock(account_id)


async def post_debit(
    uow: BillingUnitOfWork,
    directory: AccountsDirectory,
    account_id: int,
    *,
    amount: int,
    currency: str,
    description: str,
) -> Debit:
    async with uow:
        repository = uow.billing
        await _lock_active_account(repository, directory, account_id)
        check_currency(account_id, await repository.uninvoiced(account_id), currency)
        debit = await repository.add_debit(account_id, amount, currency, description)
        await uow.commit()
        return debit


async def invoice_now(
    uow: BillingUnitOfWork, directory: AccountsDirectory, account_id: int
) -> Invoice:
    async with uow:
        repository = uow.billing
        await _lock_active_account(repository, directory, account_id)
        charged = await repository.uninvoiced(account_id, for_update=True)
        check_something_to_invoice(account_id, charged)
        invoice = await repository.add_invoice(account_id, "regular", charged)
        await uow.commit()
        return invoice


async def issue_final_invoices(
    uow: BillingUnitOfWork, requests: list[tuple[CloudEvent, AccountDisconnectRequestedV1]]
) -> None:
    """All debits uninvoiced when a disconnect is processed go on its one final invoice; a
    disconnect seen again is answered with the invoice it already has. A batch of requests takes a
    few statements: the accounts are locked together (in id order, so batches never deadlock), and
    a second disconnect of one account in the same batch finds its debits already invoiced, as it
    would one batch later."""
    repository = uow.billing
    account_ids = sorted({request.account_id for _, request in requests})
    await repository.accounts.remember_accounts(account_ids)
    await repository.accounts.lock(*account_ids)
    finals = await repository.final_invoices_of([request.disconnect_id for _, request in requests])
    uninvoiced = await repository.uninvoiced_by_account(account_ids, for_update=True)
    orders = []
    for _, request in requests:
        if request.disconnect_id not in finals:
            charged = uninvoiced.pop(request.account_id, [])
            if charged:
                orders.append((request.account_id, charged, request.disconnect_id))
    for invoice in await repository.add_invoices("final", orders):
        finals[invoice.disconnect_id] = invoice
    for event, request in requests:
        invoice = finals.get(request.disconnect_id)
        await uow.answer(
            event,
            DISCONNECT_BILLED,
            DisconnectBilledV1(
                disconnect_id=request.disconnect_id,
                account_id=request.account_id,
                final_invoice_state="issued" if invoice else "not_required",
                final_invoice=(
                    FinalInvoice(id=invoice.id, total=invoice.total, currency=invoice.currency)
                    if invoice
                    else None
                ),
            ),
            account_id=request.account_id,
        )


async def get_invoice(uow: BillingUnitOfWork, invoice_id: uuid.UUID) -> Invoice:
    async with uow:
        invoice = await uow.billing.invoice(invoice_id)
        if invoice is None:
            raise errors.InvoiceNotFound(invoice_id)
        return invoice


async def invoices_of(
    uow: BillingUnitOfWork, account_id: int, page: PageRequest
) -> tuple[list[Invoice], str | None]:
    async with uow:
        return await uow.billing.invoices_of(account_id, page)


async def debits_of(
    uow: BillingUnitOfWork, account_id: int, invoiced: bool | None, page: PageRequest
) -> tuple[list[Debit], str | None]:
    async with uow:
        return await uow.billing.debits_of(account_id, invoiced, page)


async def uninvoiced_summary(
    uow: BillingUnitOfWork, account_id: int
) -> tuple[int, int, str | None]:
    async with uow:
        return await uow.billing.uninvoiced_summary(account_id)
