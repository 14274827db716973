"""Times an operator types: ISO 8601 with an offset, or a local time and the zone it is in.

The APIs refuse naive times, and so does the CLI: "09:00" means a different instant on every
operator's laptop. A local time is accepted only with `--tz`, and a local time that does not exist
(skipped by a daylight-saving change) or exists twice (repeated by one) is refused rather than
guessed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import typer

EXAMPLE = "2027-01-01T09:00:00+01:00, or 2027-01-01T09:00 with --tz Europe/Paris"


def parse_when(text: str, tz: str | None, option: str = "--at") -> datetime:
    """An aware datetime for `text`; `tz` names the zone of a time given without an offset."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is not an ISO 8601 time (e.g. {EXAMPLE}).", param_hint=option
        ) from None
    if value.tzinfo is not None:
        return value
    if tz is None:
        raise typer.BadParameter(
            f"{text!r} has no offset: add one, or name its zone with --tz (e.g. {EXAMPLE}).",
            param_hint=option,
        )
    zone = _zone(tz)
    earlier, later = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
    if earlier.utcoffset() != later.utcoffset():
        round_trip = earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        what = "does not exist" if round_trip != value else "happens twice"
        raise typer.BadParameter(
            f"{text} {what} in {tz} (a daylight-saving change); give an offset instead.",
            param_hint=option,
        )
    return earlier


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise typer.BadParameter(
            f"{name!r} is not a time zone (e.g. Europe/Paris, America/New_York, UTC).",
            param_hint="--tz",
        ) from None
