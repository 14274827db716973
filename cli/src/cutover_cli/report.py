"""`cutover report activations-disconnections`: the Activations & Disconnections report's two tables,
each filtered on its own (the first page of each); `cutover report export`: one table whole, as CSV."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.text import Text

from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_cli.options import JsonFlag, Tz
from cutover_cli.output import Output, clock, moment, shown, table, time_column
from cutover_cli.timeparse import parse_when

app = typer.Typer(no_args_is_help=True)


ACCOUNT = ("account", "name", "type", "status")


def _account(row: dict[str, Any], catalog: Catalog) -> list[str]:
    """The cells both tables start with."""
    return [
        str(row["account_id"]),
        row["account_name"],
        catalog.type(row["account_type_id"]),
        catalog.status(row["account_status_id"]),
    ]


def _option(table: str, what: str, help_text: str) -> Any:
    return typer.Option(f"--{table}-{what}", help=help_text, show_default=False)


@app.command("activations-disconnections")
def activations_disconnections(
    ctx: typer.Context,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Start (inclusive); default the first of the month eleven months before --to.",
            show_default=False,
        ),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="End (exclusive); default now.", show_default=False)
    ] = None,
    tz: Tz = None,
    activations_sort: Annotated[
        str,
        _option("activations", "sort", "activated_at, account_name or account_id; '-' reverses."),
    ] = "-activated_at",
    activations_type: Annotated[
        str | None, _option("activations", "type", "Only this account type (name or id).")
    ] = None,
    activations_search: Annotated[
        str | None, _option("activations", "search", "Part of an account's name, or its id.")
    ] = None,
    disconnections_sort: Annotated[
        str,
        _option(
            "disconnections",
            "sort",
            "disconnected_at, account_name, account_id or final_invoice_total; '-' reverses.",
        ),
    ] = "-disconnected_at",
    disconnections_type: Annotated[
        str | None, _option("disconnections", "type", "Only this account type (name or id).")
    ] = None,
    disconnections_search: Annotated[
        str | None, _option("disconnections", "search", "Part of an account's name, or its id.")
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Activations and disconnections in a period (default: from the first of the month eleven
    months back); the first 1,000 rows of each table: `cutover report export` gives them all."""
    start = parse_when(from_, tz, "--from").isoformat() if from_ else None
    end = parse_when(to, tz, "--to").isoformat() if to else None
    with Api(ctx.obj) as api:
        catalog = Catalog.load(api)
        report = api.get(
            "accounts",
            "/reports/activations-disconnections",
            **{"from": start},
            to=end,
            activations_sort=activations_sort,
            activations_account_type_id=catalog.type_id(activations_type, "--activations-type"),
            activations_q=activations_search,
            disconnections_sort=disconnections_sort,
            disconnections_account_type_id=catalog.type_id(
                disconnections_type, "--disconnections-type"
            ),
            disconnections_q=disconnections_search,
        )

    def render(console: Console) -> None:
        console.print(
            Text(f"From {moment(report['from'])} to {moment(report['to'])}", style="bold")
        )
        activations = table(
            *ACCOUNT, time_column("activated"), title=_title("Activations", report, "activations")
        )
        for row in report["activations"]:
            activations.add_row(*_account(row, catalog), clock(row["activated_at"]))
        console.print(activations)
        # The report's rows carry the final invoice's total without its currency: minor units.
        disconnections = table(
            *ACCOUNT, time_column("disconnected"), "source", "reason", "total (minor units)",
            title=_title("Disconnections", report, "disconnections"),
        )  # fmt: skip
        for row in report["disconnections"]:
            disconnections.add_row(
                *_account(row, catalog),
                clock(row["disconnected_at"]),
                row["source"],
                shown(row["reason"]),
                shown(row["final_invoice_total"]),
            )
        console.print(disconnections)

    Output(json_output).emit(report, render)


def _title(name: str, report: dict[str, Any], key: str) -> str:
    shown_rows = len(report[key])
    if report.get(f"{key}_next_cursor"):
        return f"{name} (the first {shown_rows}; all of them: cutover report export {key})"
    return f"{name} ({shown_rows})"


@app.command("export")
def export(
    ctx: typer.Context,
    table_name: Annotated[
        Literal["activations", "disconnections"],
        typer.Argument(metavar="TABLE", help="activations or disconnections"),
    ],
    from_: Annotated[
        str | None,
        typer.Option(
            "--from", help="Start (inclusive); default as the report.", show_default=False
        ),
    ] = None,
    to: Annotated[
        str | None, typer.Option("--to", help="End (exclusive); default now.", show_default=False)
    ] = None,
    tz: Tz = None,
    sort: Annotated[str | None, typer.Option(help="A sort of the table; '-' reverses.")] = None,
    account_type: Annotated[
        str | None, typer.Option("--type", help="Only this account type (name or id).")
    ] = None,
    search: Annotated[
        str | None, typer.Option(help="Part of an account's name, or its id.")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file (default: standard output)."),
    ] = None,
) -> None:
    """Every row of one table of the report, as CSV (streamed: any number of rows)."""
    params = {
        "format": "csv",
        "table": table_name,
        "from": parse_when(from_, tz, "--from").isoformat() if from_ else None,
        "to": parse_when(to, tz, "--to").isoformat() if to else None,
        f"{table_name}_sort": sort,
        f"{table_name}_q": search,
    }
    with Api(ctx.obj, timeout=300) as api:
        params[f"{table_name}_account_type_id"] = Catalog.load(api).type_id(account_type, "--type")
        path = "/reports/activations-disconnections"
        if output is None:
            api.download("accounts", path, sys.stdout.buffer, **params)
            return
        with output.open("wb") as out:
            written = api.download("accounts", path, out, **params)
    typer.echo(f"{table_name}: {written} bytes written to {output}", err=True)
