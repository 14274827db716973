"""OpenAPI helpers so every documented error is documented as a problem document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status documented as `application/problem+json`, with the
    401 and 403 that every protected route may answer."""
    return {
        status: {
            "description": HTTPStatus(status).phrase,
            "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA}},
        }
        for status in (*statuses, 401, 403)
    }


PROBLEM_CONTENT = {"application/problem+json": {"schema": PROBLEM_SCHEMA}}
# What the HTTP edge may answer on any route, before or around the route's own work.
EDGE = {
    400: "Malformed: the body is not JSON, or X-Request-ID is not a request id",
    413: "The body is over 1 MiB",
}
GUARDED = {
    401: "Missing or invalid bearer token",
    403: "The token lacks a scope the route needs",
    429: "Past the caller's rate limit (see Retry-After)",
    503: "A dependency (the database, another service) did not answer; nothing was changed "
    "(see Retry-After)",
}


def document_the_edge(app: FastAPI, open_paths: set[str]) -> None:
    """Make the OpenAPI document tell the whole truth, since clients are generated from it: every
    error of every operation is a problem document (FastAPI's own 422 included), every operation
    lists what the edge may answer (400, 413; and 401, 403, 429, 503 behind authentication, so
    not on the open health, readiness and metrics routes), and
    `/metrics` is Prometheus text."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        for path, operations in schema["paths"].items():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                edge = dict(EDGE) if path in open_paths else {**EDGE, **GUARDED}
                for status, description in edge.items():
                    responses.setdefault(str(status), {"description": description})
                for status, response in responses.items():
                    # A route may describe its own problem (readiness's 503 carries its report).
                    own = response.get("content", {}).get("application/problem+json")
                    if status[0] in "45":
                        response["content"] = (
                            {"application/problem+json": own} if own else PROBLEM_CONTENT
                        )
        schema["paths"]["/metrics"]["get"]["responses"]["200"]["content"] = {
            "text/plain": {"schema": {"type": "string"}}
        }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
