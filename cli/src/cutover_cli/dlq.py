"""`cutover dlq ...`: the records a service could not apply, looked at and settled one by one.

Each of the four services keeps its own dead letters: records of the topics it consumes that it
could not apply, and its own events Kafka refused (consumer `outbox-relay`). `list` asks all four
and merges their letters newest first; a service that does not answer is named, the others' letters
still shown. `show`, `redrive` and `discard` find a letter on whichever service holds it (ids are
UUIDs, unique across services), or ask only `--service`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from cutover_cli.client import Api
from cutover_cli.config import SERVICES
from cutover_cli.errors import ExitCode, Problem, cli_problem
from cutover_cli.options import JsonFlag, Limit
from cutover_cli.output import (
    NOTHING,
    Output,
    clock,
    details,
    id_column,
    moment,
    printable,
    shown,
    table,
    time_column,
)

app = typer.Typer(no_args_is_help=True)

ServiceName = Literal["accounts", "billing", "addresses", "scheduler"]
Service = Annotated[
    ServiceName | None,
    typer.Option(help="Only this service (default: all four).", show_default=False),
]
DeadLetterId = Annotated[str, typer.Argument(help="The dead letter's id.", show_default=False)]
REASON_MAX = 1000


@app.command("list")
def list_letters(
    ctx: typer.Context,
    service: Service = None,
    state: Annotated[
        Literal["open", "redriven", "discarded"],
        typer.Option(help="Which letters: still open, or settled."),
    ] = "open",
    topic: Annotated[
        str | None, typer.Option(help="Only the records of this topic.", show_default=False)
    ] = None,
    limit: Limit = 50,
    cursor: Annotated[
        str | None,
        typer.Option(
            help="The cursor printed under the previous page (with --service).", show_default=False
        ),
    ] = None,
    json_output: JsonFlag = False,
) -> None:
    """Dead letters of the four services (or one), newest first.

    Exits 5 when a service did not answer; the letters of the others are still shown.
    """
    if cursor and not service:
        raise typer.BadParameter(
            "A cursor pages one service's list: give --service too.", param_hint="--cursor"
        )
    out = Output(json_output)
    with Api(ctx.obj) as api:
        if service:
            page = api.get(
                service, "/dead-letters", state=state, topic=topic, limit=limit, cursor=cursor
            )
            out.page(
                page, lambda: listing([{**item, "service": service} for item in page["items"]])
            )
            return
        pages, unavailable = _every_service(api, state=state, topic=topic, limit=limit)
    merged = sorted(
        ({**item, "service": name} for name, page in pages.items() for item in page["items"]),
        key=lambda letter: datetime.fromisoformat(letter["received_at"]),
        reverse=True,
    )
    more = len(merged) > limit or any(page.get("next_cursor") for page in pages.values())
    letters = merged[:limit]

    def render(console: Console) -> None:
        console.print(listing(letters) if letters else Text("Nothing matches.", style="dim"))
        if more:
            console.print(
                Text(
                    "More dead letters than shown: raise --limit, or page one service with "
                    "--service.",
                    style="dim",
                )
            )

    out.emit(
        {
            "items": letters,
            "more": more,
            "unavailable": {name: problem.document for name, problem in unavailable.items()},
        },
        render,
    )
    if unavailable:
        if not json_output:
            for name, problem in unavailable.items():
                out.errors.print(
                    Text(f"{name}'s dead letters are missing: {_why(problem)}", style="yellow")
                )
        raise typer.Exit(ExitCode.UNREACHABLE)


@app.command("show")
def show(
    ctx: typer.Context,
    letter_id: DeadLetterId,
    service: Service = None,
    json_output: JsonFlag = False,
) -> None:
    """One dead letter: where it came from, why it was not applied, the start of its original."""
    with Api(ctx.obj) as api:
        holder, letter = locate(api, letter_id, service)
    Output(json_output).emit(letter, lambda console: console.print(letter_details(holder, letter)))


@app.command("redrive")
def redrive(
    ctx: typer.Context,
    letter_id: DeadLetterId,
    service: Service = None,
    json_output: JsonFlag = False,
) -> None:
    """Apply an open letter's original again, in the service that could not (once its cause is
    fixed). A failure leaves it open."""
    with Api(ctx.obj) as api:
        holder = service or locate(api, letter_id, None)[0]
        try:
            letter = api.post(holder, f"/dead-letters/{letter_id}/redrive")
        except Problem as problem:
            if _code(problem) == "redrive-failed":
                problem.hint = (
                    "The letter stays open: fix the cause and redrive it again, or discard it."
                )
            raise
    Output(json_output).done(
        letter,
        f"Dead letter {letter_id} redriven: {holder} applied its original.",
        letter_details(holder, letter),
    )


@app.command("discard")
def discard(
    ctx: typer.Context,
    letter_id: DeadLetterId,
    reason: Annotated[
        str,
        typer.Option(
            help=f"Why it is not applied (1 to {REASON_MAX} characters, kept with the letter).",
            show_default=False,
        ),
    ],
    service: Service = None,
    json_output: JsonFlag = False,
) -> None:
    """Close an open letter without applying it, saying why."""
    if not reason.strip() or len(reason) > REASON_MAX:
        raise typer.BadParameter(
            f"Say why, in 1 to {REASON_MAX} characters (got {len(reason)}).",
            param_hint="--reason",
        )
    with Api(ctx.obj) as api:
        holder = service or locate(api, letter_id, None)[0]
        letter = api.post(holder, f"/dead-letters/{letter_id}/discard", {"reason": reason})
    Output(json_output).done(
        letter, f"Dead letter {letter_id} discarded on {holder}.", letter_details(holder, letter)
    )


def locate(api: Api, letter_id: str, service: str | None) -> tuple[str, dict[str, Any]]:
    """The service holding the letter, and the letter: from `service` alone when given, else from
    the first of the four that has it. Not found anywhere is a 404; not found on those that
    answered, with some that did not, is "unreachable": the letter may be on one of those."""
    if service:
        return service, api.get(service, f"/dead-letters/{letter_id}")
    not_found: Problem | None = None
    unavailable: dict[str, Problem] = {}
    for name in SERVICES:
        try:
            return name, api.get(name, f"/dead-letters/{letter_id}")
        except Problem as problem:
            if problem.exit_code == ExitCode.NOT_FOUND:
                not_found = problem
            elif problem.exit_code == ExitCode.UNREACHABLE:
                unavailable[name] = problem
            else:
                raise
    if unavailable:
        absent = [name for name in SERVICES if name not in unavailable]
        silent = "; ".join(
            f"{name} did not answer: {_why(problem)}" for name, problem in unavailable.items()
        )
        where = f"Dead letter {letter_id} is not on {', '.join(absent)}; " if absent else ""
        raise Problem(
            cli_problem(
                "dead-letter-lookup-incomplete",
                "Not every service could be asked",
                where + silent,
                unavailable={name: problem.document for name, problem in unavailable.items()},
            ),
            ExitCode.UNREACHABLE,
            "Try again, or give --service when you know which service holds it.",
        )
    assert not_found is not None
    document = {
        **not_found.document,
        "detail": f"No service has dead letter {letter_id} (asked {', '.join(SERVICES)}).",
    }
    raise Problem(document, ExitCode.NOT_FOUND)


def listing(letters: list[dict[str, Any]]) -> Table:
    """The letters, one line each where the terminal allows: where each sits in Kafka and its
    attempts are in `show`."""
    rows = table(
        "service",
        id_column(),
        time_column("received"),
        Column("topic", overflow="fold"),
        Column("consumer", overflow="fold"),
        "state",
        Column("reason", overflow="fold"),
    )
    for letter in letters:
        rows.add_row(
            letter["service"],
            letter["id"],
            clock(letter["received_at"]),
            printable(letter["topic"]),
            printable(letter["consumer"]),
            _state(letter["state"]),
            printable(letter["reason"]),
        )
    return rows


def letter_details(service: str, letter: dict[str, Any]) -> Table:
    rows: list[tuple[str, Any]] = [
        ("dead letter", letter["id"]),
        ("service", service),
        ("state", _state(letter["state"])),
        ("consumer", printable(letter["consumer"])),
        ("topic", printable(letter["topic"])),
        ("partition:offset", _where(letter)),
        ("key", printable(letter["key"])),
        ("event", letter["event_id"]),
        ("received", moment(letter["received_at"])),
        ("attempts", letter["attempts"]),
        ("reason", printable(letter["reason"])),
        ("size", f"{letter['size']} bytes, SHA-256 {letter['sha256']}"),
    ]
    if letter["state"] != "open":
        changed = f"{moment(letter['state_changed_at'])} by {shown(letter['state_changed_by'])}"
        rows.append((letter["state"], changed))
    if letter["discard_reason"]:
        rows.append(("discard reason", printable(letter["discard_reason"])))
    original = printable(letter["value_preview"])
    original.overflow = "fold"  # a long token of the original is wrapped, never cut
    if letter["truncated"]:
        original.append(f"\n… only the start is shown, of {letter['size']} bytes", style="dim")
    rows.append(("original", original))
    return details(rows)


def _every_service(api: Api, **params: Any) -> tuple[dict[str, dict[str, Any]], dict[str, Problem]]:
    """Each service's first page, and the problem of each that did not answer. Any other
    failure (a wrong token, a bad filter) is the same everywhere and stops the command; so does
    no service answering at all."""
    pages: dict[str, dict[str, Any]] = {}
    unavailable: dict[str, Problem] = {}
    for name in SERVICES:
        try:
            pages[name] = api.get(name, "/dead-letters", **params)
        except Problem as problem:
            if problem.exit_code != ExitCode.UNREACHABLE:
                raise
            unavailable[name] = problem
    if not pages:
        raise Problem(
            cli_problem(
                "unreachable",
                "No service answered",
                "; ".join(f"{name}: {_why(problem)}" for name, problem in unavailable.items()),
                unavailable={name: problem.document for name, problem in unavailable.items()},
            ),
            ExitCode.UNREACHABLE,
        )
    return pages, unavailable


def _why(problem: Problem) -> str:
    document = problem.document
    why = str(document.get("detail") or document.get("title") or "no answer")
    return f"{why} ({problem.hint.rstrip('.')})" if problem.hint else why


def _code(problem: Problem) -> str:
    return str(problem.document.get("type", "")).rsplit(":", 1)[-1]


def _where(letter: dict[str, Any]) -> str:
    if letter["partition"] is None and letter["offset"] is None:
        return NOTHING
    return f"{shown(letter['partition'])}:{shown(letter['offset'])}"


def _state(state: str) -> Text:
    return Text(
        state, style={"open": "yellow", "redriven": "green", "discarded": "dim"}.get(state, "")
    )
