"""The Activations & Disconnections report: two tables over one period, each filtered and
sorted on its own. Created-as-active, a lead made active and a reactivation all count as activations;
a disconnection counts when it is requested (the moment the account left active status)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Select, select

from cutover_accounts.adapters.tables import accounts, activations, disconnects
from cutover_accounts.service_layer.accounts import AccountFilter
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_kit.pagination import parse_sort

REPORT_ROWS_MAX = 10_000

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
}


@dataclass(frozen=True)
class TableQuery:
    sort: str
    account_type_id: UUID | None = None
    q: str | None = None


def _filtered(query: Select[Any], table: TableQuery, sorts: dict[str, Any]) -> Select[Any]:
    order = parse_sort(table.sort, sorts)
    conditions = AccountFilter(
        account_type_id=table.account_type_id, q=table.q, include_archived=True
    ).conditions()
    # Rows without a value (no final invoice) come last in both directions.
    ordering = (
        (order.column.desc().nulls_last(), accounts.c.id.desc())
        if order.descending
        else (order.column.asc().nulls_last(), accounts.c.id)
    )
    return query.where(*conditions).order_by(*ordering).limit(REPORT_ROWS_MAX)


async def activations_and_disconnections(
    uow: AccountsUnitOfWork,
    *,
    start: datetime,
    end: datetime,
    activations_query: TableQuery,
    disconnections_query: TableQuery,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    activation_rows = _filtered(
        select(*ACTIVATION_COLUMNS.values())
        .select_from(activations.join(accounts, accounts.c.id == activations.c.account_id))
        .where(activations.c.activated_at >= start, activations.c.activated_at < end),
        activations_query,
        {name: ACTIVATION_COLUMNS[name] for name in ("account_id", "account_name", "activated_at")},
    )
    disconnection_rows = _filtered(
        select(*DISCONNECTION_COLUMNS.values())
        .select_from(disconnects.join(accounts, accounts.c.id == disconnects.c.account_id))
        .where(disconnects.c.requested_at >= start, disconnects.c.requested_at < end),
        disconnections_query,
        {
            name: DISCONNECTION_COLUMNS[name]
            for name in ("account_id", "account_name", "disconnected_at", "final_invoice_total")
        },
    )
    async with uow:
        first = [dict(row._mapping) for row in await uow.session.execute(activation_rows)]
        second = [dict(row._mapping) for row in await uow.session.execute(disconnection_rows)]
    return first, second
