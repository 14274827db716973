"""Scheduled events through the running system, from the API to a completed scheduled disconnect."""

from __future__ import annotations

import uuid

import pytest

from tests.support.api import (
    ACTIVE,
    INACTIVE,
    at,
    attach,
    debit,
    disconnect,
    event_in_state,
    new_account,
    new_address,
    ok,
    problem,
    schedule,
)
from tests.support.events import wait_until
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_events_are_created_reviewed_changed_and_cancelled_under_the_rules(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        account = await new_account(accounts)  # created a moment ago: accepted at once
        body = {
            "event_type": "disconnect_account",
            "account_id": account["id"],
            "run_at": at(3600),
            "payload": {"reason": "end of contract"},
        }
        event = ok(await scheduler.post("/scheduled-events", json=body), 201)
        assert event["state"] == "pending" and event["payload"] == {"reason": "end of contract"}

        listed = ok(await scheduler.get("/scheduled-events", params={"account_id": account["id"]}))
        assert [e["id"] for e in listed["items"]] == [event["id"]]
        moved = ok(
            await scheduler.patch(f"/scheduled-events/{event['id']}", json={"run_at": at(7200)})
        )
        assert moved["run_at"] > event["run_at"]
        problem(
            await scheduler.patch(f"/scheduled-events/{event['id']}", json={"run_at": at(-5)}),
            422,
            "run-at-not-in-future",
        )
        cancelled = ok(await scheduler.post(f"/scheduled-events/{event['id']}/cancel"))
        assert cancelled["state"] == "cancelled"
        problem(
            await scheduler.post(f"/scheduled-events/{event['id']}/cancel"),
            409,
            "scheduled-event-not-pending",
        )
        problem(
            await scheduler.patch(f"/scheduled-events/{event['id']}", json={"run_at": at(60)}), 409
        )

        for bad, code in [
            ({**body, "run_at": "2030-01-01T10:00:00"}, "validation-error"),  # naive
            ({**body, "run_at": at(-1)}, "run-at-not-in-future"),
            ({**body, "event_type": "reboot_router"}, "unknown-event-type"),
            ({**body, "event_type": "change_account_status", "payload": {}}, "invalid-payload"),
            ({**body, "payload": {"colour": "red"}}, "invalid-payload"),
        ]:
            problem(await scheduler.post("/scheduled-events", json=bad), 422, code)
        problem(
            await scheduler.post("/scheduled-events", json={**body, "account_id": 999_999_999_999}),
            404,
            "account-not-found",
        )
        problem(await scheduler.get(f"/scheduled-events/{uuid.uuid4()}"), 404)


async def test_a_scheduled_disconnect_goes_all_the_way(system: System) -> None:
    async with (
        system.client("accounts") as accounts,
        system.client("billing") as billing,
        system.client("addresses") as addresses,
        system.client("scheduler") as scheduler,
    ):
        account = await new_account(accounts)
        await debit(billing, account["id"], 2500)
        address = await new_address(addresses)
        await attach(addresses, address["id"], account["id"])
        event = await schedule(
            scheduler, "disconnect_account", account["id"], at(1.0), reason="scheduled move"
        )
        preview = ok(await accounts.get(f"/accounts/{account['id']}/disconnect-preview"))
        assert [e["id"] for e in preview["pending_scheduled_events"]] == [event["id"]]

        done = await event_in_state(scheduler, event["id"], ("completed", "failed"))
        assert done["state"] == "completed", done
        assert done["emitted_at"] >= done["run_at"]
        [disconnected] = ok(await accounts.get(f"/accounts/{account['id']}/disconnects"))["items"]
        assert disconnected["id"] == done["disconnect_id"]
        assert disconnected["source"] == "scheduled"
        assert disconnected["scheduled_event_id"] == event["id"]
        assert disconnected["reason"] == "scheduled move"
        assert disconnected["state"] == "completed"
        assert disconnected["final_invoice"]["total"] == 2500
        assert disconnected["released_address_id"] == address["id"]
        shown = ok(await accounts.get(f"/accounts/{account['id']}"))
        assert shown["account_status_id"] == INACTIVE


async def test_a_manual_disconnect_cancels_the_pending_scheduled_disconnect_it_supersedes(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        # Given an account with a disconnect scheduled next week and a status change too
        account = await new_account(accounts)
        later = await schedule(scheduler, "disconnect_account", account["id"], at(7 * 86400))
        change = await schedule(
            scheduler,
            "change_account_status",
            account["id"],
            at(8 * 86400),
            account_status_id=ACTIVE,
        )
        preview = ok(await accounts.get(f"/accounts/{account['id']}/disconnect-preview"))
        assert any(
            "1 pending scheduled disconnect(s) will be cancelled" in w for w in preview["warnings"]
        )

        # When it is disconnected by hand now
        started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)

        # Then the POST says what becomes of the scheduled one, and it is cancelled with the
        # disconnect named in its outcome; the other event stays pending
        assert started["pending_scheduled_disconnects"] == "cancelled"
        cancelled = await event_in_state(scheduler, later["id"], ("cancelled",), within=20)
        assert cancelled["outcome"] == (
            f"cancelled: superseded by manual disconnect {started['id']} requested by operator"
        )
        assert ok(await scheduler.get(f"/scheduled-events/{change['id']}"))["state"] == "pending"


async def test_a_scheduled_event_that_cannot_apply_fails_with_the_reason(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        account = await new_account(accounts)
        event = await schedule(
            scheduler, "change_account_status", account["id"], at(1.0), account_status_id=INACTIVE
        )

        done = await event_in_state(scheduler, event["id"], ("completed", "failed"))
        assert done["state"] == "failed"
        assert "disconnect" in done["outcome"]  # leaving Active is a disconnect, not an edit
        assert ok(await accounts.get(f"/accounts/{account['id']}"))["account_status_id"] == ACTIVE


async def test_archiving_an_account_cancels_its_pending_events(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        account = await new_account(accounts)
        await disconnect(accounts, account["id"])
        event = await schedule(
            scheduler, "change_account_status", account["id"], at(3600), account_status_id=ACTIVE
        )
        ok(await accounts.post(f"/accounts/{account['id']}/archive"))

        cancelled = await event_in_state(scheduler, event["id"], ("cancelled",), within=10)
        assert "archived" in cancelled["outcome"]

        async def refused() -> bool:
            response = await scheduler.post(
                "/scheduled-events",
                json={
                    "event_type": "disconnect_account",
                    "account_id": account["id"],
                    "run_at": at(60),
                },
            )
            return response.status_code == 409

        await wait_until(refused)
