"""The addresses database."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    MetaData,
    String,
    Table,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from cutover_kit.directory import known_accounts_table

metadata = MetaData()

# Addresses' local copy of accounts; its row lock serialises attaches and releases of one account.
# It also remembers which accounts are disconnected: a disconnected account holds no address.
known_accounts = known_accounts_table(metadata, Column("disconnected_at", DateTime(timezone=True)))

serviceable_addresses = Table(
    "serviceable_addresses",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("line1", String(200), nullable=False),
    Column("line2", String(200)),
    Column("city", String(100), nullable=False),
    Column("subdivision", String(100), nullable=False),
    Column("zip", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("latitude", Double),
    Column("longitude", Double),
    Column("normalised", String(800), nullable=False, unique=True),
    # One account per address, and (unique) one address per account.
    Column("account_id", BigInteger, ForeignKey("known_accounts.account_id"), unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A list's page is read in (sort column, id) order from the cursor on (the keyset).
    Index("serviceable_addresses_created_at", "created_at", "id"),
    Index("serviceable_addresses_city", "city", "id"),
    Index("serviceable_addresses_zip", "zip", "id"),
    # The same orders over the addresses no account holds (`available=true`): at 10M accounts one
    # in ten, and the whole orders read past the nine others, each on a heap page of its own.
    *(
        Index(
            f"serviceable_addresses_available_{column}",
            column,
            "id",
            postgresql_where=text("account_id IS NULL"),
        )
        for column in ("created_at", "city", "zip")
    ),
    # `?q=` looks for a part of the normalised address (LIKE '%…%'): trigrams find it.
    Index(
        "serviceable_addresses_normalised_trgm",
        "normalised",
        postgresql_using="gin",
        postgresql_ops={"normalised": "gin_trgm_ops"},
    ),
)

address_history = Table(
    "address_history",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column(
        "address_id", UUID(as_uuid=True), ForeignKey("serviceable_addresses.id"), nullable=False
    ),
    Column("account_id", BigInteger, nullable=False),
    Column("action", String(10), nullable=False),
    Column("reason", String(20), nullable=False),
    Column("disconnect_id", UUID(as_uuid=True)),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("address_history_account", "account_id", "id"),
    Index("address_history_address", "address_id", "id"),
)
