"""Scheduled events: when each may start (its `run_at`), when it did, how late, what came of it;
a pending one can be changed or cancelled."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cutover_console.disconnects import local_time
from cutover_console.web import CheckedForm, OperatorApi, done, render

router = APIRouter()

STATES = ("pending", "emitted", "completed", "failed", "cancelled")
PAGE_SIZE = 50


@router.get("/scheduled-events")
def events_list(
    request: Request,
    api: OperatorApi,
    state: str | None = None,
    account_id: str | None = None,
    cursor: str | None = None,
) -> Response:
    filters = {
        "state": state if state in STATES else None,
        "account_id": account_id if account_id and account_id.isdigit() else None,
    }
    page = api.get(
        "scheduler",
        "/scheduled-events",
        **filters,
        sort="-run_at",
        limit=PAGE_SIZE,
        cursor=cursor or None,
    )
    return render(request, "events.html", page=page, filters=filters, states=STATES)


@router.post("/scheduled-events/{event_id}/change", dependencies=[CheckedForm])
def change(
    request: Request,
    api: OperatorApi,
    event_id: str,
    date: Annotated[str, Form()],
    time: Annotated[str, Form()],
    tz: Annotated[str, Form()],
) -> Response:
    run_at = local_time(date, time, tz)
    api.patch("scheduler", f"/scheduled-events/{event_id}", {"run_at": run_at.isoformat()})
    return done(request, f"Scheduled event moved to {date} {time} {tz}.")


@router.post("/scheduled-events/{event_id}/cancel", dependencies=[CheckedForm])
def cancel(request: Request, api: OperatorApi, event_id: str) -> Response:
    event = api.post("scheduler", f"/scheduled-events/{event_id}/cancel")
    return done(request, f"Scheduled event for account {event['account_id']} cancelled.")
