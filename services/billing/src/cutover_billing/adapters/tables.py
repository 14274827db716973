"""The billing database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from cutover_kit.directory import known_accounts_table

metadata = MetaData()

# Billing's local copy of accounts; its row is the lock that serialises invoicing of one account.
known_accounts = known_accounts_table(metadata)

debits = Table(
    "debits",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("account_id", BigInteger, ForeignKey("known_accounts.account_id"), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("description", String(500), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id")),
    CheckConstraint("amount > 0", name="debits_positive_amount"),
    Index("debits_uninvoiced", "account_id", postgresql_where=text("invoice_id IS NULL")),
    Index("debits_account", "account_id", "created_at"),
)

invoices = Table(
    "invoices",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("number", BigInteger, nullable=False, unique=True),
    Column("account_id", BigInteger, ForeignKey("known_accounts.account_id"), nullable=False),
    Column("kind", String(10), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    # At most one final invoice per disconnect, whatever the redelivery or concurrency.
    Column("disconnect_id", UUID(as_uuid=True), unique=True),
    CheckConstraint("kind IN ('regular', 'final')", name="invoices_kind"),
    Index("invoices_account", "account_id", "number"),
)

invoice_lines = Table(
    "invoice_lines",
    metadata,
    Column("invoice_id", UUID(as_uuid=True), ForeignKey("invoices.id"), primary_key=True),
    # A debit is on at most one invoice line, ever.
    Column("debit_id", UUID(as_uuid=True), ForeignKey("debits.id"), primary_key=True, unique=True),
    Column("position", Integer, nullable=False),
    Column("description", String(500), nullable=False),
    Column("amount", BigInteger, nullable=False),
)

# The last issued invoice number. Taking a number updates this single row, whose lock is held until
# the invoice commits; a rolled-back invoice rolls the number back with it, so numbers are gapless.
invoice_number = Table(
    "invoice_number",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("last_number", BigInteger, nullable=False),
    CheckConstraint("id = 1", name="invoice_number_single_row"),
)
