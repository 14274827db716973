"""Billing's lists: the sorts each accepts, by the name the API uses, and the columns they order by."""

from __future__ import annotations

from cutover_billing.adapters.tables import debits, invoices
from cutover_kit.pagination import Listing

INVOICES = Listing(
    {"number": invoices.c.number, "issued_at": invoices.c.issued_at, "total": invoices.c.total},
    default="number",
    id_column=invoices.c.id,
)
DEBITS = Listing(
    {"created_at": debits.c.created_at, "amount": debits.c.amount},
    default="created_at",
    id_column=debits.c.id,
)
