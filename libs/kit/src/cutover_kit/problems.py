"""RFC 9457 problem details for every error a service answers, validation errors included.

Domain errors are mapped here, once, by their base class (`NotFound` → 404, `Conflict` → 409, ...).
A `type` is a stable URN per kind of problem (`urn:cutover:problem:account-not-found`) so clients
branch on it, not on prose; the README lists them. What no use case turned into a domain error is
mapped by its cause: a database out of reach is a 503 to retry, a unique or foreign-key violation
(a race the use case did not settle) a 409 `conflict`, a value PostgreSQL cannot store (a NUL
character in text, a number out of range) a 422 `unstorable-value`; only the rest is a 500.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from cutover_kit.db import integrity_kind, transient_kind, unstorable_value
from cutover_kit.errors import DomainError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


def problem_type(code: str) -> str:
    return f"urn:cutover:problem:{code}"


def problem_response(
    status: int,
    *,
    code: str,
    detail: str,
    title: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": problem_type(code),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _json_safe(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _json_safe(item) for key, item in value.items()}
    return str(value)


async def _domain_error(_: Request, error: DomainError) -> JSONResponse:
    retry_after = getattr(error, "retry_after_seconds", None)
    return problem_response(
        error.status,
        code=error.code,
        detail=error.detail,
        headers={"Retry-After": str(retry_after)} if retry_after else None,
        **_json_safe(error.extra),
    )


async def _validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "location": list(item.get("loc", ())),
            "message": item.get("msg", ""),
            "type": item.get("type", ""),
        }
        for item in error.errors()
    ]
    return problem_response(
        422,
        code="validation-error",
        title="Your request is not valid",
        detail="; ".join(
            f"{'.'.join(str(part) for part in item['location'])}: {item['message']}"
            for item in errors
        )[:1000],
        errors=_json_safe(errors),
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return ", ".join(sorted(methods))


async def _http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    detail = error.detail if isinstance(error.detail, str) else HTTPStatus(error.status_code).phrase
    if error.status_code == 405:
        error.headers = {**(error.headers or {}), "Allow": _allowed_methods(request)}
    code = {
        400: "malformed-request",
        401: "unauthorized",
        404: "not-found",
        405: "method-not-allowed",
        413: "body-too-large",
    }.get(error.status_code, f"http-{error.status_code}")
    return problem_response(error.status_code, code=code, detail=detail, headers=error.headers)


INTEGRITY_DETAILS = {
    "duplicate": "Another request wrote the same thing at the same moment and won; nothing was "
    "written. Read the current state before trying again.",
    "missing-reference": "Something this request refers to was missing when it was written (a "
    "concurrent change); nothing was written. Read the current state before trying again.",
}


async def _unexpected_error(request: Request, error: Exception) -> JSONResponse:
    if kind := transient_kind(error):
        log.warning("%s %s: database %s: %s", request.method, request.url.path, kind, error)
        return problem_response(
            503,
            code="temporarily-unavailable",
            detail="The database could not complete the request; nothing was changed. Retry.",
            headers={"Retry-After": "1"},
        )
    if kind := integrity_kind(error):
        # A use case settles its own races with a domain error (ON CONFLICT, row locks); one that
        # does not still gets a 409, never a 500. Logged: it names a race to settle in the code.
        log.warning("%s %s: unsettled %s: %s", request.method, request.url.path, kind, error)
        return problem_response(409, code="conflict", detail=INTEGRITY_DETAILS[kind])
    if reason := unstorable_value(error):
        log.warning("%s %s: unstorable value: %s", request.method, request.url.path, reason)
        return problem_response(
            422,
            code="unstorable-value",
            title="Your request is not valid",
            detail=f"A value cannot be stored as given ({reason}); nothing was written.",
        )
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(
        500, code="internal-error", detail="An unexpected error occurred; it has been logged."
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)
