"""`cutover accounts disconnect`: the preview, a confirmation, the disconnect followed to its end.

The API accepts a disconnect at once and finishes it through Kafka (final invoice, address
release), so the command polls the disconnect request until it is completed and then shows what the
operator would otherwise look up in billing and addresses. With `--at` it schedules the disconnect
instead; nothing happens now, so there is nothing to confirm.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_cli.disconnects import progress
from cutover_cli.errors import ExitCode, Problem, cli_problem
from cutover_cli.events import event_details
from cutover_cli.options import (
    AccountId,
    At,
    JsonFlag,
    Reason,
    Tz,
    Yes,
    confirmed,
    require_yes_with_json,
)
from cutover_cli.output import Output, details, moment, money, table
from cutover_cli.timeparse import parse_when
from cutover_contracts.scheduled import DISCONNECT_ACCOUNT

POLL_SECONDS = 0.2


def disconnect(
    ctx: typer.Context,
    account_id: AccountId,
    reason: Reason = None,
    at: At = None,
    tz: Tz = None,
    yes: Yes = False,
    timeout: Annotated[
        float, typer.Option(min=1, help="Seconds to follow the disconnect to its end.")
    ] = 60.0,
    json_output: JsonFlag = False,
) -> None:
    """Disconnect an account now, after its preview and your confirmation; or later, with --at."""
    out = Output(json_output)
    run_at = parse_when(at, tz) if at else None
    if run_at is None:
        require_yes_with_json(json_output, yes)
    with Api(ctx.obj) as api:
        if run_at is not None:
            _schedule(api, out, account_id, run_at, reason)
            return
        preview = api.get("accounts", f"/accounts/{account_id}/disconnect-preview")
        if not json_output:
            out.console.print(preview_details(preview, Catalog.load(api)))
        if not preview["can_disconnect"]:
            raise Problem(
                cli_problem(
                    "cannot-disconnect", "Cannot disconnect", preview["refusal"], preview=preview
                ),
                ExitCode.REFUSED,
            )
        if not yes and not confirmed(f"Disconnect account {account_id} now?"):
            out.console.print("Nothing was done.")
            return
        started = api.post(
            "accounts", f"/accounts/{account_id}/disconnect", {"reason": reason} if reason else None
        )
        try:
            finished = follow(api, started, timeout, None if json_output else out.errors)
        except KeyboardInterrupt:
            out.errors.print(
                f"Stopped following; disconnect {started['id']} goes on by itself: "
                f"see `cutover accounts show {account_id}`."
            )
            raise
        invoice_id = (finished["final_invoice"] or {}).get("id")
        invoice = api.get("billing", f"/invoices/{invoice_id}") if invoice_id else None
        address_id = finished["released_address_id"]
        address = (
            api.get("addresses", f"/serviceable-addresses/{address_id}") if address_id else None
        )
    result = {
        "preview": preview,
        "disconnect": finished,
        "final_invoice": invoice,
        "released_address": address,
    }
    out.emit(result, lambda console: _render_outcome(console, finished, invoice, address))


def follow(
    api: Api, disconnect: dict[str, Any], timeout: float, spinner_on: Console | None
) -> dict[str, Any]:
    """Poll the disconnect request until it is completed; fail with exit code 7 when it is not
    within `timeout` (it goes on), with exit code 1 when an operator abandons it meanwhile."""
    deadline = time.monotonic() + timeout
    spinner = spinner_on.status(progress(disconnect)) if spinner_on else nullcontext()
    with spinner:
        while disconnect["state"] != "completed":
            if disconnect["state"] == "abandoned":
                raise Problem(
                    cli_problem(
                        "disconnect-abandoned",
                        "Disconnect abandoned",
                        f"Disconnect {disconnect['id']} of account {disconnect['account_id']} was "
                        f"abandoned ({disconnect.get('abandon_reason') or 'no reason given'}): "
                        "the account keeps the status it shows.",
                        disconnect=disconnect,
                    ),
                    ExitCode.REFUSED,
                )
            if time.monotonic() >= deadline:
                raise Problem(
                    cli_problem(
                        "still-running",
                        "Not complete yet",
                        f"Disconnect {disconnect['id']} of account {disconnect['account_id']} was "
                        f"accepted; after {timeout:g} s {progress(disconnect)}. It goes on by "
                        f"itself: see `cutover accounts show {disconnect['account_id']}`.",
                        disconnect=disconnect,
                    ),
                    ExitCode.STILL_RUNNING,
                    _stalled_hint(disconnect),
                )
            time.sleep(POLL_SECONDS)
            disconnect = api.get("accounts", f"/disconnects/{disconnect['id']}")
            if spinner_on:
                spinner.update(progress(disconnect))
    return disconnect


def _stalled_hint(disconnect: dict[str, Any]) -> str | None:
    if disconnect["state"] != "stalled":
        return None
    return (
        f"It is stalled: `cutover disconnects retry {disconnect['id']}` asks again, "
        f"`cutover disconnects abandon {disconnect['id']} --reason ...` ends it."
    )


def preview_details(preview: dict[str, Any], catalog: Catalog) -> Table:
    account = preview["account"]
    debits = preview["uninvoiced_debits"]
    if debits is None:
        final_invoice = Text(_unknown(preview, "billing"))
    elif debits["count"] == 0:
        final_invoice = Text("none: nothing is owed")
    else:
        final_invoice = Text(
            f"{debits['count']} uninvoiced debit(s), total {money(debits['total'], debits['currency'])}"
        )
    rows = [
        (
            "account",
            f"{account['id']}  {account['name']} ({catalog.type(account['account_type_id'])}, "
            f"{catalog.status(account['account_status_id'])})",
        ),
        ("moves to status", preview["disconnect_status"]["name"]),
        ("final invoice", final_invoice),
        ("address released", _address_released(preview)),
        (
            "children staying active",
            "\n".join(
                f"{child['id']}  {child['name']}" for child in preview["children_staying_active"]
            )
            or "none",
        ),
        ("pending scheduled events", _pending_events(preview)),
    ]
    grid = details(rows, title="Disconnect preview")
    for warning in preview["warnings"]:
        grid.add_row(Text("warning", style="yellow"), Text(warning, style="yellow"))
    return grid


def _address_released(preview: dict[str, Any]) -> str:
    if preview["serviceable_address"]:
        return address_line(preview["serviceable_address"])
    if "addresses" in preview["unavailable"]:
        return _unknown(preview, "addresses")
    return "none: no serviceable address"


def _pending_events(preview: dict[str, Any]) -> str:
    events = preview["pending_scheduled_events"]
    if events is None:
        return _unknown(preview, "scheduler")
    lines = [
        f"{event['id']}  {event['event_type']} at {moment(event['run_at'])}" for event in events
    ]
    return "\n".join(lines) or "none"


def _unknown(preview: dict[str, Any], service: str) -> str:
    """A part of the preview whose service did not answer (the preview is still given)."""
    return f"unknown: {preview['unavailable'].get(service, f'{service} did not answer')}"


def address_line(address: dict[str, Any]) -> str:
    street = ", ".join(part for part in (address["line1"], address.get("line2")) if part)
    return f"{street}, {address['city']} {address['subdivision']} {address['zip']}, {address['country']}"


def schedule_disconnect(
    api: Api, account_id: int, run_at: datetime, reason: str | None
) -> dict[str, Any]:
    """A `disconnect_account` scheduled event (the CLI's and the console's one way to make one)."""
    return api.post(
        "scheduler",
        "/scheduled-events",
        {
            "event_type": DISCONNECT_ACCOUNT,
            "account_id": account_id,
            "run_at": run_at.isoformat(),
            "payload": {"reason": reason} if reason else {},
        },
    )


def _schedule(api: Api, out: Output, account_id: int, run_at: datetime, reason: str | None) -> None:
    event = schedule_disconnect(api, account_id, run_at, reason)
    out.done(event, f"Disconnect of account {account_id} scheduled.", event_details(event))


def _render_outcome(
    console: Console,
    disconnect: dict[str, Any],
    invoice: dict[str, Any] | None,
    address: dict[str, Any] | None,
) -> None:
    took = datetime.fromisoformat(disconnect["completed_at"]) - datetime.fromisoformat(
        disconnect["requested_at"]
    )
    console.print(
        Text(
            f"Account {disconnect['account_id']} disconnected "
            f"(completed in {took.total_seconds():.2f} s).",
            style="bold green",
        )
    )
    if invoice:
        lines = table("description", "amount", title=f"Final invoice #{invoice['number']}")
        lines.columns[1].justify = "right"
        for line in invoice["lines"]:
            lines.add_row(line["description"], money(line["amount"], invoice["currency"]))
        lines.add_section()
        lines.add_row(
            Text("total", style="bold"),
            Text(money(invoice["total"], invoice["currency"]), style="bold"),
        )
        console.print(lines)
    else:
        console.print("No final invoice needed: nothing was owed.")
    console.print(
        details(
            [
                (
                    "released address",
                    address_line(address) if address else "none (no address was attached)",
                )
            ]
        )
    )
