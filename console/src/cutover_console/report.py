"""The Activations & Disconnections report: a period, two tables each filtered, sorted and paged
on its own, a chart by month, and each table exported as CSV by the accounts API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_cli.config import Config
from cutover_cli.errors import Problem
from cutover_console.chart import by_month, monthly_chart, months
from cutover_console.web import Operator, OperatorApi, part, refusal, render, settings_of, zone

router = APIRouter()

PATH = "/reports/activations-disconnections"
TABLES = {
    "activations": {
        "time": "activated_at",
        "sorts": {
            "-activated_at": "Latest first",
            "activated_at": "Earliest first",
            "account_name": "Name, A to Z",
            "-account_name": "Name, Z to A",
            "account_id": "Account id",
        },
    },
    "disconnections": {
        "time": "disconnected_at",
        "sorts": {
            "-disconnected_at": "Latest first",
            "disconnected_at": "Earliest first",
            "account_name": "Name, A to Z",
            "-account_name": "Name, Z to A",
            "-final_invoice_total": "Largest final invoice first",
            "account_id": "Account id",
        },
    },
}
# The console's own names for each table's parameters, and the API's.
TABLE_PARAMETERS = {"sort": "sort", "type": "account_type_id", "q": "q", "cursor": "cursor"}


def chosen(request: Request) -> dict[str, str]:
    """The report's parameters on this page: the period and each table's own, by their page names."""
    names = ["from", "to"] + [f"{t}_{p}" for t in TABLES for p in TABLE_PARAMETERS]
    return {name: request.query_params[name] for name in names if request.query_params.get(name)}


def api_parameters(page: dict[str, str], tz: str) -> dict[str, Any]:
    """The accounts API's query for the page's parameters; the period's dates are whole days in the
    operator's zone, `to` included."""
    params: dict[str, Any] = {}
    for name, extra_days in (("from", 0), ("to", 1)):
        if page.get(name):
            try:
                day = date.fromisoformat(page[name]) + timedelta(days=extra_days)
            except ValueError:
                raise refusal("Invalid period", f"{page[name]!r} is not a date.") from None
            params[name] = datetime.combine(day, time(), zone(tz)).isoformat()
    for table in TABLES:
        for mine, theirs in TABLE_PARAMETERS.items():
            if page.get(f"{table}_{mine}"):
                params[f"{table}_{theirs}"] = page[f"{table}_{mine}"]
    return params


@router.get(PATH)
def report_page(request: Request, api: OperatorApi) -> Response:
    session = request.state.session
    page = chosen(request)
    report = part(lambda: api.get("accounts", PATH, **api_parameters(page, session.tz)))
    chart = None
    if report.data:
        tz = zone(session.tz)
        start = datetime.fromisoformat(report.data["from"]).astimezone(tz)
        end = datetime.fromisoformat(report.data["to"]).astimezone(tz)
        counts = {
            table: by_month((row[spec["time"]] for row in report.data[table]), tz)
            for table, spec in TABLES.items()
        }
        chart = monthly_chart(months(start, end), counts)
    return render(
        request,
        "report.html",
        report=report,
        chart=chart,
        page=page,
        tables=TABLES,
        catalog=Catalog.load(api),
    )


@router.get(f"{PATH}/export")
def export(request: Request, session: Operator, table: str) -> Response:
    """One table as CSV, every row, streamed from the accounts API as it arrives."""
    if table not in TABLES:
        raise refusal("Unknown table", f"Export activations or disconnections, not {table!r}.")
    params = {**api_parameters(chosen(request), session.tz), "format": "csv", "table": table}
    params.pop(f"{table}_cursor", None)
    # Not the request's Api: the download outlives this function, so its body closes the client.
    api = Api(Config(settings_of(request).urls, session.token))
    response = api.open_stream("accounts", "GET", PATH, params=params)
    if not response.is_success:
        response.read()
        api.__exit__()
        raise Problem.of_response(response, "accounts")

    def body() -> Iterator[bytes]:
        try:
            yield from response.iter_bytes()
        finally:
            response.close()
            api.__exit__()

    filename = f"{table}.csv"
    return StreamingResponse(
        body(),
        media_type=response.headers["content-type"],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
