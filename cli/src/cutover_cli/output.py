"""What the operator sees: Rich on the screen, or the APIs' JSON alone with `--json`.

Screens go to stdout; spinners, progress bars and error messages to stderr, so a pipe gets only the
data. With `--json` stdout carries exactly one JSON document (the API's answer, or the problem
document of a failure) and nothing decorative.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Column, Table
from rich.text import Text

from cutover_cli.errors import ExitCode, Problem

JSON_MODE = "cutover.json"
NOTHING = "—"
# ISO 4217 currencies whose minor unit is not the cent; every other one has two decimals.
MINOR_UNIT_DIGITS = {
    **dict.fromkeys(
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0
    ),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


class Output:
    def __init__(self, json_mode: bool) -> None:
        self.json = json_mode
        self.console = Console(highlight=False)
        self.errors = Console(stderr=True, highlight=False)

    def emit(self, data: Any, render: Callable[[Console], None]) -> None:
        """`data` as JSON, or `render` it on the screen."""
        if self.json:
            sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        else:
            render(self.console)

    def page(self, page: dict[str, Any], table: Callable[[], Table]) -> None:
        """A page of a list: its table, then how to ask for the next page."""

        def render(console: Console) -> None:
            console.print(table() if page["items"] else Text("Nothing matches.", style="dim"))
            if page.get("next_cursor"):
                console.print(Text(f"More: --cursor {page['next_cursor']}", style="dim"))

        self.emit(page, render)

    def done(self, data: Any, message: str, facts: Table) -> None:
        """An action's result: a line saying what happened, then the resource as it is now."""

        def render(console: Console) -> None:
            console.print(Text(message, style="green"))
            console.print(facts)

        self.emit(data, render)

    def problem(self, problem: Problem) -> None:
        if self.json:
            sys.stdout.write(json.dumps(problem.document, indent=2, ensure_ascii=False) + "\n")
            return
        document = problem.document
        errors = document.get("errors") or []
        # A validation problem's detail is its field errors run together: list them instead.
        detail = "" if errors or not document.get("detail") else f": {document['detail']}"
        self.errors.print(
            Text.assemble((str(document.get("title", "Error")), "bold red"), (detail, "red"))
        )
        for error in errors:
            location = ".".join(str(part) for part in error.get("location", []))
            self.errors.print(Text(f"  • {location}: {error.get('message', '')}", style="red"))
        if problem.exit_code == ExitCode.AUTH:
            self.errors.print(
                "  Set CUTOVER_API_TOKEN (a token from `cutover tokens issue`, or the break-glass"
                " one), or api_token in the config file."
            )
        if problem.hint:
            self.errors.print(Text(f"  {problem.hint}", style="yellow"))
        if str(document.get("type", "")).startswith("urn:"):
            self.errors.print(Text(f"  ({document['type'].rsplit(':', 1)[-1]})", style="dim"))


def money(amount: int | None, currency: str | None) -> str:
    """Minor units as the currency writes them (6499 USD → 64.99 USD), without a float."""
    if amount is None:
        return NOTHING
    digits = MINOR_UNIT_DIGITS.get(currency or "", 2)
    if digits == 0:
        return f"{amount} {currency}"
    units, minor = divmod(amount, 10**digits)
    return f"{units}.{minor:0{digits}d} {currency}"


def moment(value: str | None) -> str:
    """An API timestamp in UTC to the second, said so: operators compare across time zones."""
    return NOTHING if not value else f"{clock(value)} UTC"


def clock(value: str | None) -> str:
    """`moment` without the zone, for table columns whose header says (UTC)."""
    if not value:
        return NOTHING
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def shown(value: Any) -> str:
    return NOTHING if value is None or value == "" else str(value)


def printable(value: str | None) -> Text:
    """Text that came from outside (a Kafka record's key or bytes, a reason) as plain text, its
    control and invisible characters written out (`\\x1b`): they could otherwise recolour, move
    the cursor in or retitle the operator's terminal, or hide what a value really holds."""
    if value is None or value == "":
        return Text(NOTHING)
    return Text("".join(_visible(char) for char in value))


def _visible(char: str) -> str:
    if char in "\n\t" or unicodedata.category(char) not in ("Cc", "Cf", "Cs"):
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class PlainTable(Table):
    """A table whose text cells are shown as they are: an account named "[/x]" is that name, not
    Rich markup (which would fail to render, or restyle the table)."""

    def add_row(self, *renderables: Any, **options: Any) -> None:
        super().add_row(
            *(Text(cell) if isinstance(cell, str) else cell for cell in renderables), **options
        )


def table(*headers: str | Column, title: str | None = None, style: str = "bold") -> Table:
    """Every table of the CLI: a rule under the headers and no other lines, so it copies well
    and fits narrower terminals; its title on the left."""
    return PlainTable(
        *headers,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        title=title,
        title_justify="left",
        title_style=style,
        header_style="bold",
    )


def details(rows: Iterable[tuple[str, Any]], title: str | None = None) -> Table:
    """A two-column list of facts, labels dim."""
    grid = PlainTable.grid(padding=(0, 2))
    grid.title = title
    grid.title_justify = "left"
    grid.title_style = "bold"
    grid.add_column(style="dim")
    grid.add_column()
    for label, value in rows:
        grid.add_row(label, value if isinstance(value, Text) else Text(shown(value)))
    return grid


def time_column(header: str) -> Column:
    """A column of `clock` times, kept on one line; the header says they are UTC."""
    return Column(f"{header} (UTC)", no_wrap=True)


def id_column(header: str = "id") -> Column:
    """A column of UUIDs, never cut: operators copy them into the next command."""
    return Column(header, no_wrap=True, min_width=36)
