"""Every public event, produced by the real system and read back as other teams read it (the
`observer` principal), matches its producer's AsyncAPI document; and every cause of a status change
publishes `AccountStatusChanged` with its from, to, cause, activation, actor and correlation id.
(`AccountDisconnectAbandoned` is checked the same way where a disconnect is made to stall:
tests/e2e/test_reliability_findings.py.)"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECT_ABANDONED,
    ACCOUNT_STATUS_CHANGED,
    TOPICS,
)
from tests.support.api import (
    ACTIVE,
    COMMERCIAL,
    INACTIVE,
    LEAD,
    at,
    completed_disconnect,
    event_in_state,
    new_account,
    ok,
    schedule,
)
from tests.support.contracts import schema_errors
from tests.support.events import EventTap
from tests.support.system import System

pytestmark = pytest.mark.e2e

PUBLIC = [topic.name for topic in TOPICS.values() if topic.public]


def assert_matches_its_document(tap: EventTap, event: CloudEvent) -> None:
    topic, raw = tap.raw[event.id]
    assert schema_errors(topic, raw) == [], f"{topic}: {raw!r}"


async def test_every_public_event_matches_its_asyncapi_document(system: System) -> None:
    async with (
        system.client("accounts") as accounts,
        system.client("scheduler") as scheduler,
        EventTap(system.infra, *PUBLIC, principal="observer") as tap,
    ):
        # Created, updated, status changed by an edit, scheduled, disconnected and reactivated
        account = await new_account(accounts, account_status_id=LEAD)
        ok(await accounts.patch(f"/accounts/{account['id']}", json={"name": "Renamed"}))
        ok(await accounts.patch(f"/accounts/{account['id']}", json={"account_status_id": ACTIVE}))
        due = await schedule(scheduler, "disconnect_account", account["id"], at(1), reason="move")
        emitted = await event_in_state(scheduler, due["id"], ("completed", "failed"))
        assert emitted["state"] == "completed", emitted
        await completed_disconnect(accounts, emitted["disconnect_id"])
        ok(await accounts.post(f"/accounts/{account['id']}/reactivate"))
        # Disconnected by hand, then archived
        started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)
        await completed_disconnect(accounts, started["id"])
        ok(await accounts.post(f"/accounts/{account['id']}/archive"))

        expected = set(PUBLIC) - {ACCOUNT_DISCONNECT_ABANDONED.name}
        for topic in expected:
            await tap.wait_for(
                lambda event, topic=topic: (
                    event.subject == str(account["id"]) and tap.raw[event.id][0] == topic
                )
            )
        ours = [event for event in tap.seen if event.subject == str(account["id"])]
        for event in ours:
            assert_matches_its_document(tap, event)
        assert {tap.raw[event.id][0] for event in ours} == expected


async def status_change(
    tap: EventTap, account_id: int, cause: str, within: float = 20
) -> dict[str, Any]:
    event = await tap.wait_for(
        lambda e: e.subject == str(account_id) and e.data.get("cause") == cause, within=within
    )
    assert_matches_its_document(tap, event)
    assert event.data["correlation_id"] == event.correlationid
    return event.data


@pytest.fixture
async def status_changes(system: System):
    async with EventTap(system.infra, ACCOUNT_STATUS_CHANGED.name, principal="observer") as tap:
        yield tap


async def test_an_edit_publishes_its_status_change_and_a_lead_made_active_is_an_activation(
    system: System, status_changes: EventTap
) -> None:
    async with system.client("accounts") as accounts:
        lead = await new_account(accounts, account_status_id=LEAD)
        ok(
            await accounts.patch(
                f"/accounts/{lead['id']}",
                json={"account_status_id": ACTIVE},
                headers={"X-Request-ID": "edit-cause-1"},
            )
        )
    change = await status_change(status_changes, lead["id"], "edit")
    assert (change["from_status_id"], change["to_status_id"]) == (LEAD, ACTIVE)
    assert change["activation"] is True
    assert (change["actor"], change["correlation_id"]) == ("operator", "edit-cause-1")


async def test_a_scheduled_status_change_publishes_its_status_change(
    system: System, status_changes: EventTap
) -> None:
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        lead = await new_account(accounts, account_status_id=LEAD)
        due = await schedule(
            scheduler, "change_account_status", lead["id"], at(1), account_status_id=ACTIVE
        )
        change = await status_change(status_changes, lead["id"], "scheduled")
    assert (change["from_status_id"], change["to_status_id"]) == (LEAD, ACTIVE)
    assert change["activation"] is True
    assert change["scheduled_event_id"] == due["id"]
    assert change["actor"] == "operator"  # who scheduled it


async def test_a_disconnect_publishes_its_status_change(
    system: System, status_changes: EventTap
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts, account_type_id=COMMERCIAL)
        started = ok(
            await accounts.post(
                f"/accounts/{account['id']}/disconnect",
                json={"reason": "moving"},
                headers={"X-Request-ID": f"disconnect-cause-{uuid.uuid4()}"},
            ),
            202,
        )
        change = await status_change(status_changes, account["id"], "disconnect")
    assert (change["from_status_id"], change["to_status_id"]) == (ACTIVE, INACTIVE)
    assert change["activation"] is False
    assert change["disconnect_id"] == started["id"]
    assert change["correlation_id"].startswith("disconnect-cause-")


async def test_a_reactivation_publishes_its_status_change_as_an_activation(
    system: System, status_changes: EventTap
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)
        await completed_disconnect(accounts, started["id"])
        ok(await accounts.post(f"/accounts/{account['id']}/reactivate"))
        change = await status_change(status_changes, account["id"], "reactivate")
    assert (change["from_status_id"], change["to_status_id"]) == (INACTIVE, ACTIVE)
    assert change["activation"] is True
    # And the changes of one account arrive in the order they were made
    causes = [
        event.data["cause"] for event in status_changes.seen if event.subject == str(account["id"])
    ]
    assert causes == ["disconnect", "reactivate"]
