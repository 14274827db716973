"""What every page shares: the templates, how money and times are shown, the signed-in operator,
CSRF checks, and the API client in the operator's name."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from markupsafe import Markup, escape

from cutover_cli.client import Api
from cutover_cli.config import Config
from cutover_cli.disconnect import address_line
from cutover_cli.errors import ExitCode, Problem, cli_problem
from cutover_cli.output import NOTHING, money
from cutover_console.session import Session
from cutover_console.settings import Settings

HERE = Path(__file__).parent
templates = Jinja2Templates(directory=HERE / "templates")
TIME_ZONES = sorted(available_timezones())


class SignInRequired(Exception):
    pass


class CsrfRefused(Exception):
    pass


def refusal(title: str, detail: str) -> Problem:
    """A refusal of the console's own (a form it cannot send), shown like the APIs' ones."""
    return Problem(cli_problem("refused", title, detail, status=422), ExitCode.REFUSED)


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


# --- formats --------------------------------------------------------------------------------------


def instant(value: str | datetime | None) -> datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


@pass_context
def when(context: Any, value: str | datetime | None) -> Markup:
    """A time in the operator's zone, its UTC form on hover and in the machine-readable attribute."""
    moment = instant(value)
    if moment is None:
        return Markup(NOTHING)
    utc = moment.astimezone(UTC)
    local = moment.astimezone(zone(context.get("tz")))
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat(), utc.strftime("%Y-%m-%d %H:%M:%S"), local.strftime("%Y-%m-%d %H:%M:%S %Z")
    )


@pass_context
def local_date(context: Any, value: str | None) -> str:
    """The date part of a time in the operator's zone, as a date field takes it."""
    moment = instant(value)
    return moment.astimezone(zone(context.get("tz"))).strftime("%Y-%m-%d") if moment else ""


@pass_context
def local_clock(context: Any, value: str | None) -> str:
    moment = instant(value)
    return moment.astimezone(zone(context.get("tz"))).strftime("%H:%M") if moment else ""


def lateness(milliseconds: float | None) -> str:
    if milliseconds is None:
        return NOTHING
    if milliseconds < 1000:
        return f"{milliseconds:.0f} ms"
    return f"{milliseconds / 1000:.1f} s"


def shown(value: Any) -> str:
    return NOTHING if value is None or value == "" else str(value)


templates.env.filters.update(
    money=lambda amount, currency: money(amount, currency),
    lateness=lateness,
    shown=shown,
    address=address_line,
)
templates.env.globals.update(
    when=when, local_date=local_date, local_clock=local_clock, TIME_ZONES=TIME_ZONES
)


# --- the request's session and the API in the operator's name --------------------------------------


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def session_of(request: Request) -> Session:
    return request.state.session


def operator(request: Request) -> Session:
    """The signed-in operator's session; anyone else is sent to the sign-in page."""
    session = session_of(request)
    if not session.signed_in:
        raise SignInRequired
    return session


Operator = Annotated[Session, Depends(operator)]


def operator_api(request: Request, session: Operator) -> Iterator[Api]:
    """The CLI's client with the operator's token: every call is the operator's, in the audit log."""
    with Api(Config(settings_of(request).urls, session.token)) as api:
        yield api


OperatorApi = Annotated[Api, Depends(operator_api)]


async def checked_form(request: Request) -> None:
    """Every form carries the session's CSRF token; a form without it was not made by the console."""
    form = await request.form()
    sent = form.get("csrf")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, session_of(request).csrf):
        raise CsrfRefused


CheckedForm = Depends(checked_form)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    session = session_of(request)
    return templates.TemplateResponse(
        request,
        template,
        {"session": session, "tz": session.tz, "notices": session.take_notices(), **context},
        status_code=status_code,
    )


def back(request: Request, default: str = "/accounts") -> str:
    """Where a form was sent from (its path and query only, never another host)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if not referer.path.startswith("/") or referer.path.startswith("//"):
        return default
    return referer.path + (f"?{referer.query}" if referer.query else "")


def done(request: Request, message: str, to: str | None = None) -> RedirectResponse:
    """An action's end: its message on the page it leads to (303: the browser GETs it)."""
    session_of(request).notify("success", message)
    return RedirectResponse(to or back(request), status_code=303)


def problem_text(document: dict[str, Any]) -> Markup:
    """A problem document as one readable sentence (the page also lists its field errors)."""
    title = document.get("title") or "Error"
    detail = document.get("detail")
    return escape(f"{title}: {detail}" if detail and not document.get("errors") else title)


templates.env.filters["problem_text"] = problem_text


@dataclass(frozen=True)
class Part:
    """One section of a page: its data, or the problem that kept it from being read (a scope the
    token lacks, a service down), so the rest of the page still shows."""

    data: Any = None
    problem: dict[str, Any] | None = None


def part(read: Callable[[], Any], none_when_missing: bool = False) -> Part:
    try:
        return Part(read())
    except Problem as problem:
        if problem.status == 401:
            raise
        if none_when_missing and problem.status == 404:
            return Part(None)
        return Part(problem=problem.document)
