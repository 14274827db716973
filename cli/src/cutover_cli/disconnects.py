"""`cutover disconnects ...`: the disconnects that stalled, asked again or abandoned.

A disconnect waits for two answers through Kafka (billing's final invoice, addresses' release). One
not given within the service's step timeout shows the disconnect as `stalled`, naming the steps;
`retry` asks those services again (same disconnect, they answer idempotently), `abandon` ends it:
the account keeps the status it shows and is no longer frozen. The state words here are also how
`cutover accounts show` and `cutover accounts disconnect` describe a disconnect.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cutover_cli.client import Api
from cutover_cli.options import Cursor, JsonFlag, Limit, Yes, confirmed, require_yes_with_json
from cutover_cli.output import (
    Output,
    clock,
    details,
    id_column,
    moment,
    money,
    printable,
    table,
    time_column,
)

app = typer.Typer(no_args_is_help=True)

DisconnectId = Annotated[str, typer.Argument(help="The disconnect's id.", show_default=False)]
# The steps a disconnect waits for, and the service that answers each.
STEPS = {"final_invoice": "final invoice (billing)", "address": "address release (addresses)"}


@app.command("stalled")
def stalled(
    ctx: typer.Context, limit: Limit = 50, cursor: Cursor = None, json_output: JsonFlag = False
) -> None:
    """Disconnects still waiting for an answer after their deadline."""
    with Api(ctx.obj) as api:
        page = api.get("accounts", "/disconnects", state="stalled", limit=limit, cursor=cursor)

    def listing() -> Table:
        rows = table(
            id_column(),
            "account",
            time_column("requested"),
            time_column("deadline"),
            "stalled steps",
            "retries",
        )
        for item in page["items"]:
            rows.add_row(
                item["id"],
                str(item["account_id"]),
                clock(item["requested_at"]),
                clock(item["deadline_at"]),
                steps(item),
                str(item["retries"]),
            )
        return rows

    Output(json_output).page(page, listing)


@app.command("retry")
def retry(ctx: typer.Context, disconnect_id: DisconnectId, json_output: JsonFlag = False) -> None:
    """Ask billing and addresses again for the answers a pending or stalled disconnect waits for."""
    with Api(ctx.obj) as api:
        asked = api.post("accounts", f"/disconnects/{disconnect_id}/retry")
    Output(json_output).done(
        asked,
        f"Disconnect {disconnect_id} asked again ({progress(asked)}); "
        f"follow it with `cutover accounts show {asked['account_id']}`.",
        disconnect_details(asked),
    )


@app.command("abandon")
def abandon(
    ctx: typer.Context,
    disconnect_id: DisconnectId,
    reason: Annotated[
        str, typer.Option(help="Why (kept in the account's history).", show_default=False)
    ],
    yes: Yes = False,
    json_output: JsonFlag = False,
) -> None:
    """End a pending or stalled disconnect: the account keeps the status it shows and is no longer
    frozen; its history records who and why."""
    require_yes_with_json(json_output, yes)
    if not reason.strip():
        raise typer.BadParameter("Say why the disconnect is abandoned.", param_hint="--reason")
    out = Output(json_output)
    with Api(ctx.obj) as api:
        if not yes:
            current = api.get("accounts", f"/disconnects/{disconnect_id}")
            out.console.print(disconnect_details(current))
            question = (
                f"Abandon disconnect {disconnect_id} of account {current['account_id']}? "
                "The account keeps the status it shows."
            )
            if not confirmed(question):
                out.console.print("Nothing was done.")
                return
        ended = api.post("accounts", f"/disconnects/{disconnect_id}/abandon", {"reason": reason})
    out.done(
        ended,
        f"Disconnect {disconnect_id} abandoned: account {ended['account_id']} is no longer frozen.",
        disconnect_details(ended),
    )


def state(disconnect: dict[str, Any]) -> Text:
    """The disconnect's state in a word or a line: what it waits for when stalled, and why it
    ended when abandoned."""
    name = disconnect["state"]
    if name == "stalled":
        return Text(f"stalled: no {steps(disconnect)} yet", style="bold red")
    if name == "abandoned":
        return Text.assemble(("abandoned: ", "dim"), printable(disconnect.get("abandon_reason")))
    style = {"completed": "green", "pending": "yellow"}.get(name, "")
    return Text(name, style=style)


def steps(disconnect: dict[str, Any]) -> str:
    """The steps a stalled disconnect waits for, with the service that owes each answer."""
    return ", ".join(STEPS.get(step, step) for step in disconnect.get("stalled_steps") or [])


def progress(disconnect: dict[str, Any]) -> str:
    """Where each step stands, for a spinner or a line."""
    line = (
        f"final invoice {disconnect['final_invoice_state']}, address {disconnect['address_state']}"
    )
    if disconnect["state"] == "stalled":
        line += f"; stalled waiting for {steps(disconnect)}"
    return line


def disconnect_details(disconnect: dict[str, Any]) -> Table:
    invoice = disconnect["final_invoice"]
    rows: list[tuple[str, Any]] = [
        ("disconnect", disconnect["id"]),
        ("account", disconnect["account_id"]),
        ("source", disconnect["source"]),
        ("state", state(disconnect)),
        ("reason", printable(disconnect["reason"])),
        ("requested", moment(disconnect["requested_at"])),
        ("deadline", moment(disconnect.get("deadline_at"))),
        (
            "final invoice",
            money(invoice["total"], invoice["currency"])
            if invoice
            else disconnect["final_invoice_state"],
        ),
        ("address", disconnect["address_state"]),
        ("retries", disconnect.get("retries") or 0),
        ("completed", moment(disconnect["completed_at"])),
    ]
    if disconnect["state"] == "abandoned":
        rows.append(("abandoned", moment(disconnect.get("abandoned_at"))))
    return details(rows)
