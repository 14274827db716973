"""The report's default period and its CSV cells."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cutover_accounts.domain.report import default_start
from cutover_accounts.entrypoints.http.report import _cell


@pytest.mark.parametrize(
    ("end", "start"),
    [
        (datetime(2026, 12, 2, 19, 0, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        (datetime(2026, 11, 30, 23, 59, tzinfo=UTC), datetime(2025, 12, 1, tzinfo=UTC)),
        (datetime(2027, 1, 1, 0, 0, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)),
        # An end given in another offset counts in UTC: 2026-12-01 01:00+05:00 is November there
        (
            datetime(2026, 12, 1, 1, 0, tzinfo=timezone(timedelta(hours=5))),
            datetime(2025, 12, 1, tzinfo=UTC),
        ),
    ],
)
def test_the_default_period_starts_on_the_first_of_the_month_eleven_months_back(
    end: datetime, start: datetime
) -> None:
    assert default_start(end) == start


@pytest.mark.parametrize("text", ["=SUM(A1)", "+1", "-1", "@cmd", "\tx"])
def test_a_cell_a_spreadsheet_would_run_is_exported_as_text(text: str) -> None:
    assert _cell(text) == "'" + text


def test_cells_are_plain_values_times_in_utc_and_null_empty() -> None:
    assert _cell("Ada") == "Ada"
    assert _cell(None) == ""
    assert _cell(2500) == 2500
    at = datetime(2026, 1, 1, 5, 0, tzinfo=timezone(timedelta(hours=5)))
    assert _cell(at) == "2026-01-01T00:00:00Z"
