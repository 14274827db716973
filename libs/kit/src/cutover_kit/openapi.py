"""OpenAPI helpers so every documented error is documented as a problem document."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

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
