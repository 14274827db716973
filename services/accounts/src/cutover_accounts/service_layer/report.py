"""The Activations & Disconnections report: two tables over one period, each filtered and
sorted on its own. Created-as-active, a lead made active and a reactivation all count as activations;
a disconnection counts when it is requested (the moment the account left active status)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cutover_accounts.adapters.queries import TableQuery
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork


async def activations_and_disconnections(
    uow: AccountsUnitOfWork,
    *,
    start: datetime,
    end: datetime,
    activations_query: TableQuery,
    disconnections_query: TableQuery,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with uow:
        return await uow.accounts.report(start, end, activations_query, disconnections_query)
