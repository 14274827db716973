"""Per-request and per-message context: who acted, and which request caused it."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
actor: ContextVar[str] = ContextVar("actor", default="system")
