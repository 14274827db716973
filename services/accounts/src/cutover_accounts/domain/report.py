"""The Activations & Disconnections report's period."""

from __future__ import annotations

from datetime import UTC, datetime

MONTHS_BACK = 11


def default_start(end: datetime) -> datetime:
    """00:00 UTC on the first day of the month eleven months before `end`'s: with `end`'s own
    (partial) month, twelve calendar months, so every month of a chart by month is whole."""
    end = end.astimezone(UTC)
    month = end.year * 12 + end.month - 1 - MONTHS_BACK
    return datetime(month // 12, month % 12 + 1, 1, tzinfo=UTC)
