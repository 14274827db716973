"""`cutover events ...`: the scheduler's events, reviewed, changed or cancelled while pending."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from cutover_cli.catalog import Catalog
from cutover_cli.client import Api
from cutover_cli.options import At, Cursor, EventId, JsonFlag, Limit, Reason, Tz
from cutover_cli.output import (
    NOTHING,
    Output,
    clock,
    details,
    id_column,
    moment,
    shown,
    table,
    time_column,
)
from cutover_cli.timeparse import parse_when

app = typer.Typer(no_args_is_help=True)
STATES = ("pending", "emitted", "completed", "failed", "cancelled")


@app.command("list")
def list_events(
    ctx: typer.Context,
    account: Annotated[
        int | None, typer.Option(min=1, help="Only this account's events.", show_default=False)
    ] = None,
    state: Annotated[
        str | None, typer.Option(help=f"One of {', '.join(STATES)}.", show_default=False)
    ] = None,
    event_type: Annotated[
        str | None,
        typer.Option(
            "--type", help="disconnect_account or change_account_status.", show_default=False
        ),
    ] = None,
    sort: Annotated[str, typer.Option(help="run_at or created_at; '-' reverses.")] = "run_at",
    limit: Limit = 50,
    cursor: Cursor = None,
    json_output: JsonFlag = False,
) -> None:
    """Scheduled events, filtered like the API's list."""
    with Api(ctx.obj) as api:
        page = api.get(
            "scheduler",
            "/scheduled-events",
            account_id=account,
            state=state,
            event_type=event_type,
            sort=sort,
            limit=limit,
            cursor=cursor,
        )

    def listing() -> Table:
        rows = table(
            id_column(), "type", "account", time_column("run at"), "state", "lateness", "outcome"
        )
        for event in page["items"]:
            rows.add_row(
                event["id"],
                event["event_type"],
                str(event["account_id"]),
                clock(event["run_at"]),
                _state(event["state"]),
                _lateness(event),
                shown(event["outcome"]),
            )
        return rows

    Output(json_output).page(page, listing)


@app.command("show")
def show(ctx: typer.Context, event_id: EventId, json_output: JsonFlag = False) -> None:
    """One event: its minimum start time, when it was emitted, its lateness and its outcome."""
    with Api(ctx.obj) as api:
        event = api.get("scheduler", f"/scheduled-events/{event_id}")
    Output(json_output).emit(event, lambda console: console.print(event_details(event)))


@app.command("change")
def change(
    ctx: typer.Context,
    event_id: EventId,
    at: At = None,
    tz: Tz = None,
    reason: Reason = None,
    status: Annotated[
        str | None,
        typer.Option(
            help="change_account_status events: the status name or id to apply.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Move a pending event (--at) or change what it does (--reason, --status)."""
    if reason is not None and status is not None:
        raise typer.BadParameter("--reason is for disconnects, --status for status changes.")
    body: dict[str, Any] = {}
    if at is not None:
        body["run_at"] = parse_when(at, tz).isoformat()
    with Api(ctx.obj) as api:
        if reason is not None:
            body["payload"] = {"reason": reason}
        if status is not None:
            body["payload"] = {"account_status_id": Catalog.load(api).status_id(status)}
        if not body:
            raise typer.BadParameter("Nothing to change: give --at, --reason or --status.")
        event = api.patch("scheduler", f"/scheduled-events/{event_id}", body)
    Output(json_output).done(event, f"Scheduled event {event_id} changed.", event_details(event))


@app.command("cancel")
def cancel(ctx: typer.Context, event_id: EventId, json_output: JsonFlag = False) -> None:
    """Cancel a pending event: it never fires."""
    with Api(ctx.obj) as api:
        event = api.post("scheduler", f"/scheduled-events/{event_id}/cancel")
    Output(json_output).done(event, f"Scheduled event {event_id} cancelled.", event_details(event))


def event_details(event: dict[str, Any]) -> Table:
    payload = ", ".join(f"{key}={value}" for key, value in event["payload"].items())
    return details(
        [
            ("event", event["id"]),
            ("type", event["event_type"]),
            ("account", event["account_id"]),
            ("payload", payload or NOTHING),
            ("state", _state(event["state"])),
            ("minimum start time", moment(event["run_at"])),
            ("emitted", moment(event["emitted_at"])),
            ("lateness", _lateness(event)),
            ("outcome", event["outcome"]),
            ("disconnect", event["disconnect_id"]),
            ("created", moment(event["created_at"])),
            ("updated", moment(event["updated_at"])),
        ]
    )


def _lateness(event: dict[str, Any]) -> str:
    late = event["lateness_ms"]
    return NOTHING if late is None else f"{late:.1f} ms"


def _state(state: str) -> Text:
    style = {"completed": "green", "failed": "red", "cancelled": "dim", "pending": "yellow"}
    return Text(state, style=style.get(state, ""))
