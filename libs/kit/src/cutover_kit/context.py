"""Per-request and per-message context: who acted, and which request caused it."""

from __future__ import annotations

from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
actor: ContextVar[str] = ContextVar("actor", default="system")
# The write an HTTP request makes, as (action, resource), e.g. ("POST /accounts/{account_id}/disconnect",
# "/accounts/42/disconnect"): the unit of work that commits it writes the audit record with it.
audited_write: ContextVar[tuple[str, str] | None] = ContextVar("audited_write", default=None)
