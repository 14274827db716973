"""What a service has stored, in one comparable value: to show that a request wrote nothing."""

from __future__ import annotations

import asyncpg

# Columns that background work changes on its own (the relay marks outbox rows published, and
# renews or takes over its lease); a request's write would show in the row's other columns or in
# the row count anyway.
BACKGROUND_COLUMNS = {
    ("outbox", "published_at"),
    *(("relay_leases", c) for c in ("epoch", "holder", "expires_at", "taken_at")),
}

COLUMNS = """
SELECT table_name, array_agg(column_name::text ORDER BY ordinal_position) AS columns
FROM information_schema.columns
WHERE table_schema = 'public' AND table_name <> 'alembic_version'
GROUP BY table_name ORDER BY table_name
"""


async def state_queries(connection: asyncpg.Connection) -> dict[str, str]:
    """Per table, the query that sums it up: its row count and an order-free hash of every row."""
    queries = {}
    for table, columns in await connection.fetch(COLUMNS):
        kept = ", ".join(f'"{c}"' for c in columns if (table, c) not in BACKGROUND_COLUMNS)
        queries[table] = (
            f'SELECT count(*), coalesce(sum(hashtext(ROW({kept})::text)::bigint), 0) FROM "{table}"'
        )
    return queries


async def stored_state(
    connection: asyncpg.Connection, queries: dict[str, str]
) -> dict[str, tuple[int, int]]:
    return {table: tuple(await connection.fetchrow(query)) for table, query in queries.items()}
