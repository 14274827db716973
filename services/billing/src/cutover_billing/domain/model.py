"""Debits and invoices. Money is an integer amount in the currency's minor unit, never a float."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from cutover_billing.domain import errors


@dataclass(frozen=True)
class Debit:
    id: UUID
    account_id: int
    amount: int
    currency: str
    description: str
    created_at: datetime
    invoice_id: UUID | None


@dataclass(frozen=True)
class InvoiceLine:
    debit_id: UUID
    description: str
    amount: int


@dataclass(frozen=True)
class Invoice:
    id: UUID
    number: int
    account_id: int
    kind: Literal["regular", "final"]
    currency: str
    total: int
    issued_at: datetime
    disconnect_id: UUID | None
    lines: tuple[InvoiceLine, ...]


def invoice_lines(debits: list[Debit]) -> tuple[tuple[InvoiceLine, ...], int]:
    """The lines of an invoice over `debits` and its total, which is exactly their sum."""
    lines = tuple(InvoiceLine(debit.id, debit.description, debit.amount) for debit in debits)
    return lines, sum(line.amount for line in lines)


def check_currency(account_id: int, uninvoiced: list[Debit], currency: str) -> None:
    """A debit joins the account's uninvoiced debits only in their currency: an invoice holds one
    currency, and its total is the sum of its lines."""
    if uninvoiced and uninvoiced[0].currency != currency:
        raise errors.CurrencyMismatch(account_id, uninvoiced[0].currency, currency)


def check_something_to_invoice(account_id: int, uninvoiced: list[Debit]) -> None:
    """An invoice run needs at least one uninvoiced debit: an empty invoice is refused."""
    if not uninvoiced:
        raise errors.NothingToInvoice(account_id)
