"""Disconnecting: now (then its progress, step by step), or scheduled; retrying or abandoning one
that stalled."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cutover_cli import disconnect as cli_disconnect
from cutover_cli.timeparse import parse_when
from cutover_console.web import CheckedForm, OperatorApi, done, refusal, render

router = APIRouter()

Reason = Annotated[str, Form()]


@router.post("/accounts/{account_id}/disconnect", dependencies=[CheckedForm])
def disconnect_now(
    request: Request, api: OperatorApi, account_id: int, reason: Reason = ""
) -> Response:
    body = {"reason": reason.strip()} if reason.strip() else None
    started = api.post("accounts", f"/accounts/{account_id}/disconnect", body)
    return RedirectResponse(f"/disconnects/{started['id']}", status_code=303)


@router.post("/accounts/{account_id}/schedule-disconnect", dependencies=[CheckedForm])
def schedule_disconnect(
    request: Request,
    api: OperatorApi,
    account_id: int,
    date: Annotated[str, Form()],
    time: Annotated[str, Form()],
    tz: Annotated[str, Form()],
    reason: Reason = "",
) -> Response:
    run_at = local_time(date, time, tz)
    event = cli_disconnect.schedule_disconnect(api, account_id, run_at, reason.strip() or None)
    return done(
        request,
        f"Disconnect of account {account_id} scheduled for {date} {time} {tz}.",
        f"/scheduled-events?account_id={account_id}#event-{event['id']}",
    )


def local_time(date: str, time: str, tz: str) -> datetime:
    """The instant an operator means by a date, a time and a zone (the CLI's rules: a time that a
    daylight-saving change skips or repeats is refused, not guessed)."""
    try:
        return parse_when(f"{date}T{time}", tz.strip(), option="time")
    except typer.BadParameter as error:
        raise refusal("Invalid time", error.message) from None


@router.get("/disconnects/{disconnect_id}")
def disconnect_page(request: Request, api: OperatorApi, disconnect_id: str) -> Response:
    disconnect = api.get("accounts", f"/disconnects/{disconnect_id}")
    account = api.get("accounts", f"/accounts/{disconnect['account_id']}")
    return render(request, "disconnect.html", disconnect=disconnect, account=account)


@router.get("/disconnects/{disconnect_id}/progress")
def disconnect_progress(request: Request, api: OperatorApi, disconnect_id: str) -> Response:
    """The progress region alone, which the page asks for again until the disconnect ends."""
    disconnect = api.get("accounts", f"/disconnects/{disconnect_id}")
    return render(request, "progress.html", disconnect=disconnect)


@router.post("/disconnects/{disconnect_id}/retry", dependencies=[CheckedForm])
def retry(request: Request, api: OperatorApi, disconnect_id: str) -> Response:
    api.post("accounts", f"/disconnects/{disconnect_id}/retry")
    return done(request, "Billing and addresses were asked again.")


@router.post("/disconnects/{disconnect_id}/abandon", dependencies=[CheckedForm])
def abandon(
    request: Request, api: OperatorApi, disconnect_id: str, reason: Reason = ""
) -> Response:
    ended = api.post("accounts", f"/disconnects/{disconnect_id}/abandon", {"reason": reason})
    return done(
        request,
        f"Disconnect abandoned: account {ended['account_id']} keeps its status and is no longer frozen.",
    )
