"""Sign in with an API token, sign out.

The token is checked by asking the accounts API with it: a 401 is a wrong, expired or foreign token;
a 403 is a good token without `accounts:read` (an `ops`-only operator may still use the operations
page). Anything else that fails is shown as what it is (a service down), and nothing is kept.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cutover_cli.client import Api
from cutover_cli.config import Config
from cutover_cli.errors import Problem
from cutover_console.web import (
    TIME_ZONES,
    CheckedForm,
    render,
    session_of,
    settings_of,
)

router = APIRouter()


def _local(target: str | None) -> str:
    """Only a path of this console: `next` must not send a signed-in operator elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/accounts"
    return target


@router.get("/sign-in")
def sign_in_page(request: Request, next: str | None = None) -> Response:
    if session_of(request).signed_in:
        return RedirectResponse(_local(next), status_code=303)
    return render(request, "sign_in.html", next=_local(next))


@router.post("/sign-in", dependencies=[CheckedForm])
def sign_in(
    request: Request,
    token: Annotated[str, Form()] = "",
    tz: Annotated[str, Form()] = "UTC",
    next: Annotated[str, Form()] = "/accounts",
) -> Response:
    token = token.strip()
    if not token:
        return _refused(request, next, {"title": "Enter your API token."}, 422)
    with Api(Config(settings_of(request).urls, token)) as api:
        try:
            answer = api.request("accounts", "GET", "/account-statuses", params={"limit": 1})
        except Problem as problem:
            return _refused(request, next, problem.document, 503)
    if answer.status_code not in (200, 403):
        document = Problem.of_response(answer, "accounts").document
        if answer.status_code == 401:
            document = {**document, "title": "This token was refused"}
        return _refused(request, next, document, answer.status_code)
    session = session_of(request)
    session.sign_in(token, tz if tz in TIME_ZONES else "UTC")
    return RedirectResponse(_local(next), status_code=303)


def _refused(request: Request, next: str, problem: dict[str, object], status: int) -> Response:
    return render(request, "sign_in.html", status, next=_local(next), problem=problem)


@router.post("/sign-out", dependencies=[CheckedForm])
def sign_out(request: Request) -> Response:
    session = session_of(request)
    session.sign_out()
    session.notify("success", "Signed out. The token is no longer kept by this browser.")
    return RedirectResponse("/sign-in", status_code=303)
