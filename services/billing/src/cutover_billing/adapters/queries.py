"""The sorts billing's lists accept, by the name the API uses, and the columns they order by."""

from __future__ import annotations

from cutover_billing.adapters.tables import debits, invoices

INVOICE_SORTS = {
    "number": invoices.c.number,
    "issued_at": invoices.c.issued_at,
    "total": invoices.c.total,
}
DEBIT_SORTS = {"created_at": debits.c.created_at, "amount": debits.c.amount}
