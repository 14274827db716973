"""The Activations & Disconnections report: JSON pages of both tables, or one table whole as CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from cutover_accounts.adapters.queries import (
    ACTIVATION_SORTS,
    DISCONNECTION_SORTS,
    REPORT_COLUMNS,
    ReportTable,
    TableQuery,
)
from cutover_accounts.domain.errors import ReportTableRequired
from cutover_accounts.entrypoints.http.common import Search, UoW
from cutover_accounts.entrypoints.schemas import ActivationsDisconnections
from cutover_accounts.service_layer import report
from cutover_kit.auth import requires
from cutover_kit.openapi import problems
from cutover_kit.pagination import Cursor, Instant, sort_query

router = APIRouter()

TableLimit = Annotated[
    int, Query(ge=1, le=10_000, description="Rows of this table per page (default 1,000)")
]
CSV_BATCH = 500  # rows per chunk written to the response
# A cell a spreadsheet would run as a formula (OWASP's CSV injection): shown as text instead.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@router.get(
    "/reports/activations-disconnections",
    dependencies=[requires("accounts:read")],
    tags=["reports"],
    summary="Activations & Disconnections in a period (default: twelve calendar months to now)",
    description=(
        "Two tables over [from, to), each filtered, sorted and paged on its own: "
        "`activations_next_cursor` is null once the last activation is shown, and the same for "
        "disconnections. `format=csv&table=activations|disconnections` streams every row of one "
        "table instead (its filters and sort apply; no paging). The default period starts at "
        "00:00 UTC on the first day of the month eleven months before `to`'s."
    ),
    responses={
        200: {
            "model": ActivationsDisconnections,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "description": "With format=csv: one table, a header row, every row",
                }
            },
        },
        **problems(422),
    },
)
async def activations_disconnections(
    uow: UoW,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    format: Annotated[
        Literal["json", "csv"], Query(description="csv: one table whole, see `table`")
    ] = "json",
    table: Annotated[
        ReportTable | None, Query(description="With format=csv (required there): which table")
    ] = None,
    activations_sort: Annotated[str, sort_query(ACTIVATION_SORTS)] = "-activated_at",
    activations_account_type_id: UUID | None = None,
    activations_q: Search = None,
    activations_limit: TableLimit = 1000,
    activations_cursor: Cursor = None,
    disconnections_sort: Annotated[str, sort_query(DISCONNECTION_SORTS)] = "-disconnected_at",
    disconnections_account_type_id: UUID | None = None,
    disconnections_q: Search = None,
    disconnections_limit: TableLimit = 1000,
    disconnections_cursor: Cursor = None,
) -> Any:
    start, end = report.period(from_, to, datetime.now(UTC))
    queries = {
        "activations": TableQuery(activations_sort, activations_account_type_id, activations_q),
        "disconnections": TableQuery(
            disconnections_sort, disconnections_account_type_id, disconnections_q
        ),
    }
    if format == "csv":
        if table is None:
            raise ReportTableRequired
        rows = report.every_row(uow, table, start=start, end=end, query=queries[table])
        name = f"{table}-{start:%Y%m%dT%H%M%SZ}-{end:%Y%m%dT%H%M%SZ}.csv"
        return StreamingResponse(
            _csv(REPORT_COLUMNS[table], rows),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    (activations, next_activations), (disconnections, next_disconnections) = await report.pages(
        uow,
        start=start,
        end=end,
        activations=queries["activations"],
        disconnections=queries["disconnections"],
        limits=(activations_limit, disconnections_limit),
        cursors=(activations_cursor, disconnections_cursor),
    )
    # Validated in one call, rows and all, with no model built per row in Python: 2.2 ms for the
    # default 2,000 rows against 3.6 ms (best of 5 × 10).
    return ActivationsDisconnections.model_validate(
        {
            "from": start,
            "to": end,
            "activations": activations,
            "activations_limit": activations_limit,
            "activations_next_cursor": next_activations,
            "disconnections": disconnections,
            "disconnections_limit": disconnections_limit,
            "disconnections_next_cursor": next_disconnections,
        }
    )


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


async def _csv(columns: list[str], rows: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """The header, then the rows, a batch per chunk: the response holds one batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180
    writer.writerow(columns)
    written = 0
    async for row in rows:
        writer.writerow([_cell(row[column]) for column in columns])
        written += 1
        if written % CSV_BATCH == 0:
            yield buffer.getvalue().encode()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode()
