"""Operations: each service's readiness and backlogs, dead letters and stalled disconnects, with
what an operator does about them. Readiness and metrics are the services' open `/readyz` and
`/metrics` (read as `cutover status` reads them); the lists need the `ops` scope."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cutover_cli.config import SERVICES
from cutover_cli.status import probe
from cutover_console.web import CheckedForm, OperatorApi, done, part, refusal, render

router = APIRouter()


@router.get("/operations")
def operations(request: Request, api: OperatorApi) -> Response:
    return render(
        request,
        "operations.html",
        health={service: probe(api, service) for service in SERVICES},
        dead_letters={
            service: part(
                lambda service=service: api.get(service, "/dead-letters", state="open")["items"]
            )
            for service in SERVICES
        },
        stalled=part(lambda: api.get("accounts", "/disconnects", state="stalled")["items"]),
    )


def _service(name: str) -> str:
    if name not in SERVICES:
        raise refusal("Unknown service", f"{name!r} is none of {', '.join(SERVICES)}.")
    return name


@router.post("/operations/dead-letters/{service}/{letter_id}/redrive", dependencies=[CheckedForm])
def redrive(request: Request, api: OperatorApi, service: str, letter_id: str) -> Response:
    api.post(_service(service), f"/dead-letters/{letter_id}/redrive")
    return done(request, f"Dead letter {letter_id} redriven by {service}.", "/operations")


@router.post("/operations/dead-letters/{service}/{letter_id}/discard", dependencies=[CheckedForm])
def discard(
    request: Request,
    api: OperatorApi,
    service: str,
    letter_id: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    api.post(_service(service), f"/dead-letters/{letter_id}/discard", {"reason": reason})
    return done(request, f"Dead letter {letter_id} discarded.", "/operations")
