"""The Activations & Disconnections report: two tables over one period, each filtered, sorted and
paged on its own, or one of them whole as a stream. Created-as-active, a lead made active and a
reactivation all count as activations; a disconnection counts when it is requested (the moment the
account left active status)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from cutover_accounts.adapters.queries import ReportTable, TableQuery, report_table
from cutover_accounts.domain.errors import ReportPeriodEmpty
from cutover_accounts.domain.report import default_start
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork

Page = tuple[list[dict[str, Any]], str | None]


def period(
    start: datetime | None, end: datetime | None, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end): `end` defaults to now, `start` to the report's default for that end."""
    end = end or now
    start = start or default_start(end)
    if start >= end:
        raise ReportPeriodEmpty(start, end)
    return start, end


async def pages(
    uow: AccountsUnitOfWork,
    *,
    start: datetime,
    end: datetime,
    activations: TableQuery,
    disconnections: TableQuery,
    limits: tuple[int, int],
    cursors: tuple[str | None, str | None],
) -> tuple[Page, Page]:
    """One page of each table."""
    first = report_table("activations", start, end, activations)
    second = report_table("disconnections", start, end, disconnections)
    async with uow:
        return (
            await uow.accounts.report_page(first, limit=limits[0], cursor=cursors[0]),
            await uow.accounts.report_page(second, limit=limits[1], cursor=cursors[1]),
        )


def every_row(
    uow: AccountsUnitOfWork,
    table: ReportTable,
    *,
    start: datetime,
    end: datetime,
    query: TableQuery,
) -> AsyncIterator[dict[str, Any]]:
    """Every row of one table, streamed. The query is checked now (an unknown sort is refused
    before a response starts); the rows are read as the stream is consumed."""
    report = report_table(table, start, end, query)

    async def rows() -> AsyncIterator[dict[str, Any]]:
        async with uow:
            async for row in uow.accounts.report_rows(report):
                yield row

    return rows()
