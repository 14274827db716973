"""The `cutover` command: the operator's way to act on accounts and watch the system."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from cutover_cli import accounts, bulk, disconnects, dlq, events, report, status, tokens
from cutover_cli.config import DEFAULT_FILE, load
from cutover_cli.errors import EXIT_CODES_HELP, ExitCode, Problem, cli_problem
from cutover_cli.output import JSON_MODE, Output


class GuardedGroup(TyperGroup):
    """The one place where failures become a readable message and an exit code, never a traceback.

    Typer's own signals (exit, abort, usage errors) and a closed pipe (`cutover ... | head`), which
    Typer ends quietly, pass through; a problem from an API or from the CLI is shown as such;
    anything else is a bug, reported in one line with exit code 8.
    """

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
            raise
        except Problem as problem:
            Output(ctx.meta.get(JSON_MODE, False)).problem(problem)
            raise typer.Exit(problem.exit_code) from None
        except Exception as error:
            bug = Problem(
                cli_problem(
                    "unexpected-error",
                    "Unexpected error in the CLI",
                    f"{type(error).__name__}: {error}",
                ),
                ExitCode.BUG,
            )
            Output(ctx.meta.get(JSON_MODE, False)).problem(bug)
            raise typer.Exit(ExitCode.BUG) from None


app = typer.Typer(
    cls=GuardedGroup,
    help=(
        "Act on Cutover's accounts and watch the system, through its four HTTP APIs. "
        "URLs and token: ACCOUNTS_URL, BILLING_URL, ADDRESSES_URL, SCHEDULER_URL and "
        f"CUTOVER_API_TOKEN, or the same keys in lower case in {DEFAULT_FILE} "
        "(the environment wins)."
    ),
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)


@app.callback()
def configure(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="CUTOVER_CONFIG",
            help=f"A TOML file with the URLs and token (default {DEFAULT_FILE}).",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    ctx.obj = load(config)


app.command("status")(status.status)
app.add_typer(accounts.app, name="accounts", help="List, show, create, edit and act on accounts.")
app.add_typer(
    disconnects.app, name="disconnects", help="Stalled disconnects: list, ask again, abandon."
)
app.add_typer(events.app, name="events", help="Scheduled events: list, show, change, cancel.")
app.add_typer(
    dlq.app, name="dlq", help="Dead letters of the four services: list, show, redrive, discard."
)
app.add_typer(report.app, name="report", help="Reports.")
app.add_typer(bulk.app, name="bulk", help="Act on many accounts at once, from a CSV file.")
app.add_typer(
    tokens.app, name="tokens", help="The local stack's tokens: issue one for a name and scopes."
)
