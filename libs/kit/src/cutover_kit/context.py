"""Per-request and per-message context: who acted, and which request caused it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
actor: ContextVar[str] = ContextVar("actor", default="system")
# The write an HTTP request makes, as (action, resource), e.g. ("POST /accounts/{account_id}/disconnect",
# "/accounts/42/disconnect"): the unit of work that commits it writes the audit record with it.
audited_write: ContextVar[tuple[str, str] | None] = ContextVar("audited_write", default=None)


@contextmanager
def acting(who: str | None, correlation: str | None) -> Iterator[None]:
    """Act as `who` under `correlation` (each None: keep the current one), e.g. while applying
    one event of a consumed batch."""
    tokens = [
        (var, var.set(value))
        for var, value in ((actor, who), (correlation_id, correlation))
        if value is not None
    ]
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
