"""`cutover report activations-disconnections`: the Activations & Disconnections report's two tables, each filtered on its own."""

from __future__ import annotations

from typing import Annotated, Any

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
            "--from", help="Start (inclusive); default a year before --to.", show_default=False
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
    """Every activation and disconnection in a period (default: the last 12 months)."""
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
            *ACCOUNT, time_column("activated"), title=f"Activations ({len(report['activations'])})"
        )
        for row in report["activations"]:
            activations.add_row(*_account(row, catalog), clock(row["activated_at"]))
        console.print(activations)
        # The report's rows carry the final invoice's total without its currency: minor units.
        disconnections = table(
            *ACCOUNT, time_column("disconnected"), "source", "reason", "total (minor units)",
            title=f"Disconnections ({len(report['disconnections'])})",
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
