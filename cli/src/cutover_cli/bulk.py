"""`cutover bulk disconnect`: many accounts from a CSV file, resumable, never twice.

Two things make a rerun after Ctrl-C (or a crash) safe:
- each row's request carries an Idempotency-Key derived from the file's content and the row, so a
  request that reached the API before the interruption is answered with its first result instead
  of acting again (a scheduled disconnect, in particular, would otherwise be scheduled twice);
- a progress file next to the CSV records each row's outcome as soon as it is known, so a rerun
  skips the rows already done and sends only the others (failed ones are retried).
An edited file is a new batch with new keys; a row already disconnected is then refused by the API.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID, uuid5

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from cutover_cli.client import TIMEOUT_SECONDS, answer, headers, reaching
from cutover_cli.config import Config
from cutover_cli.errors import ExitCode, Problem
from cutover_cli.options import At, JsonFlag, Reason, Tz
from cutover_cli.output import Output, details, table
from cutover_cli.timeparse import parse_when
from cutover_contracts.scheduled import DISCONNECT_ACCOUNT

app = typer.Typer(no_args_is_help=True)

COLUMNS = ("account_id", "reason", "at")
PROGRESS_SUFFIX = ".cutover-progress.jsonl"
# Fixed forever: changing it would change every key, and a rerun would no longer be recognised.
KEY_NAMESPACE = UUID("6f0c8f55-3f6e-4c55-9a57-2f4a43c1b0d1")
FINAL_OUTCOMES = ("succeeded", "refused")


@dataclass(frozen=True)
class Row:
    line: int
    account_id: int
    reason: str | None
    run_at: datetime | None
    key: str


def read_rows(path: Path, reason: str | None, run_at: datetime | None, tz: str | None) -> list[Row]:
    """The file's rows, the options as defaults for empty cells, each with its Idempotency-Key."""
    content = path.read_bytes()
    batch = hashlib.sha256(content).hexdigest()
    try:
        reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
        fields = reader.fieldnames or []
        records = [(reader.line_num, record) for record in reader]
    except (UnicodeDecodeError, csv.Error) as error:
        raise typer.BadParameter(f"{path}: {error}", param_hint="--file") from None
    if "account_id" not in fields or not set(fields) <= set(COLUMNS):
        raise typer.BadParameter(
            f"{path}: the header must name account_id and may name reason and at "
            f"(found: {', '.join(fields) or 'nothing'}).",
            param_hint="--file",
        )
    rows = []
    for number, record in records:
        account = (record["account_id"] or "").strip()
        if not account.isdigit() or int(account) < 1:
            raise typer.BadParameter(
                f"{path} line {number}: account_id {account!r} is not a positive integer.",
                param_hint="--file",
            )
        row_reason = (record.get("reason") or "").strip() or reason
        at_text = (record.get("at") or "").strip()
        row_at = parse_when(at_text, tz, f"{path.name} line {number}") if at_text else run_at
        identity = [batch, int(account), row_reason, row_at.isoformat() if row_at else None]
        key = str(uuid5(KEY_NAMESPACE, json.dumps(identity)))
        rows.append(Row(number, int(account), row_reason, row_at, key))
    return rows


class Ledger:
    """The progress file: one JSON line per outcome, appended and flushed as each row lands."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outcomes: dict[str, dict[str, Any]] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    outcome = json.loads(line)
                except ValueError:
                    continue  # a line cut short by a crash: that row is simply sent again
                self.outcomes[outcome["key"]] = outcome

    def done(self, row: Row) -> bool:
        return self.outcomes.get(row.key, {}).get("outcome") in FINAL_OUTCOMES

    def record(self, outcome: dict[str, Any]) -> None:
        with self.path.open("a") as file:
            file.write(json.dumps(outcome) + "\n")
        self.outcomes[outcome["key"]] = outcome


async def send(clients: dict[str, httpx.AsyncClient], row: Row) -> dict[str, Any]:
    """One row's request; its outcome (succeeded, refused, failed). An auth failure stops all."""
    if row.run_at is None:
        service, path = "accounts", f"/accounts/{row.account_id}/disconnect"
        body: dict[str, Any] | None = {"reason": row.reason} if row.reason else None
    else:
        service, path = "scheduler", "/scheduled-events"
        body = {
            "event_type": DISCONNECT_ACCOUNT,
            "account_id": row.account_id,
            "run_at": row.run_at.isoformat(),
            "payload": {"reason": row.reason} if row.reason else {},
        }
    outcome = {"key": row.key, "line": row.line, "account_id": row.account_id}
    client = clients[service]
    try:
        with reaching(service, str(client.base_url)):
            response = await client.post(path, json=body, headers={"Idempotency-Key": row.key})
        result = answer(response)
    except Problem as problem:
        if problem.exit_code == ExitCode.AUTH:
            raise
        refused = problem.exit_code in (ExitCode.REFUSED, ExitCode.NOT_FOUND)
        return {
            **outcome,
            "outcome": "refused" if refused else "failed",
            "status": problem.status,
            "detail": problem.document.get("detail") or problem.document.get("title"),
        }
    kind = "scheduled_event_id" if row.run_at else "disconnect_id"
    return {**outcome, "outcome": "succeeded", "status": response.status_code, kind: result["id"]}


async def send_all(
    config: Config,
    rows: list[Row],
    concurrency: int,
    ledger: Ledger,
    advance: Callable[[], None],
) -> None:
    """Send the rows with at most `concurrency` requests in flight, recording each outcome."""
    queue = list(reversed(rows))
    fatal: list[Problem] = []

    async def worker(clients: dict[str, httpx.AsyncClient]) -> None:
        while queue and not fatal:
            row = queue.pop()
            try:
                outcome = await send(clients, row)
            except Problem as problem:
                fatal.append(problem)
                return
            ledger.record(outcome)
            advance()

    async with AsyncExitStack() as stack:
        clients = {
            service: await stack.enter_async_context(
                httpx.AsyncClient(
                    base_url=config.urls[service],
                    headers=headers(config),
                    timeout=TIMEOUT_SECONDS,
                    limits=httpx.Limits(max_connections=concurrency),
                )
            )
            for service in ("accounts", "scheduler")
        }
        await asyncio.gather(*(worker(clients) for _ in range(concurrency)))
    if fatal:
        raise fatal[0]


@app.command("disconnect")
def disconnect(
    ctx: typer.Context,
    file: Annotated[
        Path,
        typer.Option(
            "--file",
            exists=True,
            dir_okay=False,
            readable=True,
            help="CSV with a header: account_id, and optionally reason and at.",
            show_default=False,
        ),
    ],
    at: At = None,
    tz: Tz = None,
    reason: Reason = None,
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="Requests in flight.")] = 8,
    json_output: JsonFlag = False,
) -> None:
    """Disconnect every account of a CSV file, now or at a time (--at, or an `at` column).

    Safe to run again after an interruption: rows already done are skipped, and no account is
    disconnected twice. Exits 0 when every row succeeded, 1 when some were refused, 5 when some
    failed (run it again to retry them).
    """
    out = Output(json_output)
    rows = read_rows(file, reason, parse_when(at, tz) if at else None, tz)
    ledger = Ledger(file.with_name(file.name + PROGRESS_SUFFIX))
    pending = [row for row in rows if not ledger.done(row)]
    bar = Progress(
        TextColumn("[bold]Disconnecting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=out.errors,
        disable=json_output,
    )
    with bar:
        task = bar.add_task("rows", total=len(rows), completed=len(rows) - len(pending))
        try:
            asyncio.run(send_all(ctx.obj, pending, concurrency, ledger, lambda: bar.advance(task)))
        except KeyboardInterrupt:
            done = sum(ledger.done(row) for row in rows)
            out.errors.print(
                f"Interrupted: {done} of {len(rows)} rows done, recorded in {ledger.path}. "
                "Run the same command again to resume; nothing is disconnected twice."
            )
            raise typer.Exit(130) from None
    summary = _summary(file, ledger, rows, skipped=len(rows) - len(pending))
    out.emit(summary, lambda console: _render(console, summary))
    if summary["failed"]:
        raise typer.Exit(ExitCode.UNREACHABLE)
    if summary["refused"]:
        raise typer.Exit(ExitCode.REFUSED)


def _summary(file: Path, ledger: Ledger, rows: list[Row], skipped: int) -> dict[str, Any]:
    outcomes = [ledger.outcomes[row.key] for row in rows if row.key in ledger.outcomes]
    return {
        "file": str(file),
        "progress_file": str(ledger.path),
        "rows": len(rows),
        "done_in_an_earlier_run": skipped,
        **{
            kind: [outcome for outcome in outcomes if outcome["outcome"] == kind]
            for kind in ("succeeded", "refused", "failed")
        },
    }


def _render(console: Console, summary: dict[str, Any]) -> None:
    console.print(
        details(
            [
                ("rows", summary["rows"]),
                ("succeeded", Text(str(len(summary["succeeded"])), style="green")),
                ("refused", Text(str(len(summary["refused"])), style="yellow")),
                ("failed", Text(str(len(summary["failed"])), style="red")),
                ("done in an earlier run", summary["done_in_an_earlier_run"]),
                ("progress file", summary["progress_file"]),
            ],
            title="Bulk disconnect",
        )
    )
    for kind, style in (("refused", "yellow"), ("failed", "red")):
        if summary[kind]:
            rows = table("line", "account", "why", title=kind.capitalize(), style=f"bold {style}")
            for outcome in summary[kind]:
                rows.add_row(str(outcome["line"]), str(outcome["account_id"]), outcome["detail"])
            console.print(rows)
    if summary["failed"]:
        console.print("Run the same command again to retry the failed rows.")
