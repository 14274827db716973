"""Options that several commands share, declared once so they read and behave the same."""

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
