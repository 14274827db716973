"""Options that several commands share, declared once so they read and behave the same, and the
confirmation that `--yes` skips."""

from __future__ import annotations

from typing import Annotated

import typer

from cutover_cli.output import JSON_MODE


def _remember_json_mode(ctx: typer.Context, value: bool) -> bool:
    """Record the mode where the top-level error handler finds it: a failure is reported in the
    same form (JSON or screen) as the command's answer would have been."""
    ctx.meta[JSON_MODE] = value
    return value


JsonFlag = Annotated[
    bool,
    typer.Option(
        "--json",
        help="Print the API's JSON (or the problem document) and nothing else, for scripts.",
        callback=_remember_json_mode,
    ),
]
AccountId = Annotated[int, typer.Argument(min=1, help="The account id.", show_default=False)]
EventId = Annotated[str, typer.Argument(help="The scheduled event's id.", show_default=False)]
Limit = Annotated[int, typer.Option(min=1, max=500, help="Page size.")]
Cursor = Annotated[
    str | None, typer.Option(help="The cursor printed under the previous page.", show_default=False)
]
At = Annotated[
    str | None,
    typer.Option(
        "--at",
        help="When: ISO 8601 with an offset (2027-01-01T09:00+01:00), or a local time with --tz.",
        show_default=False,
    ),
]
Tz = Annotated[
    str | None,
    typer.Option(
        "--tz",
        help="The zone of times given without an offset, e.g. Europe/Paris.",
        show_default=False,
    ),
]
Reason = Annotated[
    str | None, typer.Option(help="Why (kept with the disconnect).", show_default=False)
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def require_yes_with_json(json_output: bool, yes: bool) -> None:
    if json_output and not yes:
        raise typer.BadParameter(
            "--json needs --yes: a script cannot answer the confirmation.", param_hint="--yes"
        )


def confirmed(question: str) -> bool:
    try:
        return typer.confirm(question, default=False)
    except typer.Abort:  # end of input: nobody said yes
        return False
