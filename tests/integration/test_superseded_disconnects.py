"""The scheduler's set-based cancellation of superseded disconnects, against a real PostgreSQL: one
statement for a batch gives what one statement per started disconnect gave."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cutover_contracts.scheduled import CHANGE_ACCOUNT_STATUS, DISCONNECT_ACCOUNT
from cutover_kit.db import Database
from cutover_scheduler.adapters.repository import Superseding

pytestmark = pytest.mark.infra


async def test_a_batch_cancels_each_accounts_other_pending_disconnects_with_the_first_cause(
    scheduler_database: Database,
) -> None:
    later = datetime.now(UTC) + timedelta(days=1)
    async with scheduler_database.unit_of_work() as uow:
        events = uow.scheduled_events  # type: ignore[attr-defined]

        async def event(account_id: int, event_type: str = DISCONNECT_ACCOUNT, **values: object):
            return (
                await events.add(
                    event_type=event_type, account_id=account_id, run_at=later, **values
                )
            ).id

        spared, other = await event(1), await event(1)
        change = await event(1, CHANGE_ACCOUNT_STATUS, payload={"account_status_id": "x"})
        emitted = await event(1, state="emitted")
        second_account, untouched = await event(2), await event(3)
        # Two disconnects of account 1 in one batch: the first started by `spared`, the second by
        # hand; and one of account 2
        cancelled = await events.cancel_superseded(
            DISCONNECT_ACCOUNT,
            [
                Superseding(1, spared, "by the first"),
                Superseding(1, None, "by the second"),
                Superseding(2, None, "by the third"),
            ],
        )
        await uow.commit()

    async with scheduler_database.unit_of_work() as uow:
        events = uow.scheduled_events  # type: ignore[attr-defined]
        found = {
            name: ((e := await events.get(event_id)).state, e.outcome)
            for name, event_id in {
                "spared": spared,
                "other": other,
                "change": change,
                "emitted": emitted,
                "second_account": second_account,
                "untouched": untouched,
            }.items()
        }
    assert cancelled == 3
    # As one by one: the first cancels `other`; the second, sparing nothing, cancels `spared`
    assert found == {
        "spared": ("cancelled", "by the second"),
        "other": ("cancelled", "by the first"),
        "change": ("pending", None),
        "emitted": ("emitted", None),
        "second_account": ("cancelled", "by the third"),
        "untouched": ("pending", None),
    }
