"""Query objects: what a list or the report asks for, in plain values, and the SQL it becomes.

The service layer and the routes build these from the request; only the repository turns them into
statements, so no SQL is written outside `adapters/`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from sqlalchemy import Select, or_, select

from cutover_accounts.adapters.tables import (
    account_history,
    account_statuses,
    accounts,
    activations,
    disconnects,
)
from cutover_kit.pagination import Listing, Sort, contains_pattern, parse_sort

# Each list, its sorts by the name the API uses (`GET /accounts` and an account's children share one).
ACCOUNTS = Listing(
    {
        "id": accounts.c.id,
        "name": accounts.c.name,
        "created_at": accounts.c.created_at,
        "updated_at": accounts.c.updated_at,
        "activated_at": accounts.c.activated_at,
        "disconnected_at": accounts.c.disconnected_at,
    },
    default="id",
    id_column=accounts.c.id,
)
HISTORY = Listing(
    {"at": account_history.c.at, "id": account_history.c.id},
    default="id",
    id_column=account_history.c.id,
)
DISCONNECTS = Listing(
    {
        "requested_at": disconnects.c.requested_at,
        "completed_at": disconnects.c.completed_at,
        "deadline_at": disconnects.c.deadline_at,
    },
    default="-requested_at",
    id_column=disconnects.c.id,
)


@dataclass(frozen=True)
class AccountFilter:
    """The accounts a list shows (`GET /accounts`, children, the preview's children)."""

    account_status_id: UUID | None = None
    account_type_id: UUID | None = None
    parent_account_id: int | None = None
    q: str | None = None
    include_archived: bool = False
    active_only: bool = False  # in an activating status, not disconnected (nor archived)
    # A late consumer's catch-up (BRIEF §9): every account changed since then.
    updated_since: datetime | None = None

    def conditions(self, *, search: bool = True) -> list[Any]:
        """The filters' conditions; without the search's (`matches`) when `search` is False."""
        table = accounts.c
        conditions: list[Any] = []
        if not self.include_archived:
            conditions.append(table.archived_at.is_(None))
        if self.active_only:
            activating = select(account_statuses.c.id).where(account_statuses.c.activates_account)
            conditions += [table.disconnected_at.is_(None), table.account_status_id.in_(activating)]
        if self.updated_since:
            conditions.append(table.updated_at >= self.updated_since)
        if self.account_status_id:
            conditions.append(table.account_status_id == self.account_status_id)
        if self.account_type_id:
            conditions.append(table.account_type_id == self.account_type_id)
        if self.parent_account_id:
            conditions.append(table.parent_account_id == self.parent_account_id)
        if self.q and search:
            conditions.append(self.matches(self.q))
        return conditions

    @staticmethod
    def matches(q: str) -> Any:
        """A search: the name holds `q`, or `q` is the account's id."""
        matches = [accounts.c.name.ilike(contains_pattern(q))]
        if q.isdigit() and len(q) < 19:
            matches.append(accounts.c.id == int(q))
        return or_(*matches)


ReportTable = Literal["activations", "disconnections"]


@dataclass(frozen=True)
class TableQuery:
    """One table of the Activations & Disconnections report: its sort and its filters."""

    sort: str
    account_type_id: UUID | None = None
    q: str | None = None


ACTIVATION_COLUMNS = {
    "account_id": accounts.c.id.label("account_id"),
    "account_name": accounts.c.name.label("account_name"),
    "account_type_id": accounts.c.account_type_id,
    "account_status_id": accounts.c.account_status_id,
    "activated_at": activations.c.activated_at,
}
DISCONNECTION_COLUMNS = {
    "account_id": accounts.c.id.label("account_id"),
    "account_name": accounts.c.name.label("account_name"),
    "account_type_id": accounts.c.account_type_id,
    "account_status_id": accounts.c.account_status_id,
    "disconnected_at": disconnects.c.requested_at.label("disconnected_at"),
    "source": disconnects.c.source,
    "reason": disconnects.c.reason,
    "final_invoice_total": disconnects.c.final_invoice_total,
    "final_invoice_currency": disconnects.c.final_invoice_currency,
}
REPORT_COLUMNS: dict[ReportTable, list[str]] = {
    "activations": list(ACTIVATION_COLUMNS),
    "disconnections": list(DISCONNECTION_COLUMNS),
}

ACTIVATION_SORTS = {
    name: ACTIVATION_COLUMNS[name] for name in ("account_id", "account_name", "activated_at")
}
DISCONNECTION_SORTS = {
    name: DISCONNECTION_COLUMNS[name]
    for name in ("account_id", "account_name", "disconnected_at", "final_invoice_total")
}


@dataclass(frozen=True)
class ReportQuery:
    """A report table's rows as a statement, ordered by `sort` then `id` (a row's own id, the
    keyset's tie-break: one account has many activations)."""

    statement: Select[Any]
    sort: Sort
    id_column: Any
    # With a search term: the repository reads the accounts whose name holds it (or whose id it
    # is) first and hands their ids to `statement` as `account_column = ANY(:matched)` (see
    # `report_table`), or, for a term that matches too many accounts to hand over, adds the
    # search's conditions to `statement` itself.
    account_column: Any = None
    q: str | None = None

    def search(self) -> list[Any]:
        """The search's conditions on `accounts`."""
        return AccountFilter(q=self.q, include_archived=True).conditions()


def report_table(
    table: ReportTable, start: datetime, end: datetime, query: TableQuery
) -> ReportQuery:
    """The rows of `table` in [start, end), filtered as `query` says; refuses an unknown sort."""
    if table == "activations":
        rows, id_column, account_column, sorts = (
            select(*ACTIVATION_COLUMNS.values(), activations.c.id)
            .select_from(activations.join(accounts, accounts.c.id == activations.c.account_id))
            .where(activations.c.activated_at >= start, activations.c.activated_at < end),
            activations.c.id,
            activations.c.account_id,
            ACTIVATION_SORTS,
        )
    else:
        rows, id_column, account_column, sorts = (
            select(*DISCONNECTION_COLUMNS.values(), disconnects.c.id)
            .select_from(disconnects.join(accounts, accounts.c.id == disconnects.c.account_id))
            .where(disconnects.c.requested_at >= start, disconnects.c.requested_at < end),
            disconnects.c.id,
            disconnects.c.account_id,
            DISCONNECTION_SORTS,
        )
    conditions = AccountFilter(account_type_id=query.account_type_id, include_archived=True)
    # Rows without a value (no final invoice) come last in both directions.
    sort = replace(parse_sort(query.sort, sorts), nulls_last=True)
    report = ReportQuery(rows.where(*conditions.conditions()), sort, id_column)
    if not query.q:
        return report
    # A search reads the matching accounts first, by the trigram index, and then their rows by
    # (account, time). Left to itself, PostgreSQL estimates a name pattern's matches from its
    # statistics and may walk the period's rows in sort order instead, looking for the few
    # matches: at 10,000,000 accounts it estimated 30,383 accounts for "Linus Torvalds" (1,221
    # match) and read a million activations for 75 s, where the matching accounts' 370 take
    # 0.1 s (EXPLAIN ANALYZE, 2026-12-03). Handed the ids, it knows how many there are.
    return replace(report, account_column=account_column, q=query.q)
