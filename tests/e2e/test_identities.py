"""Every caller is someone: the actor of what a named token does, what a scheduled disconnect
records of whoever scheduled it, and services calling each other with their own identities."""

from __future__ import annotations

import pytest

from tests.support.api import at, completed_disconnect, event_in_state, new_account, ok
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_a_disconnect_made_with_a_named_token_is_that_name_in_the_history_and_audit_log(
    system: System,
) -> None:
    # Given an account, and an operator's token naming her with the scope to disconnect only
    token = system.issuer.token("Ada Lovelace", {"accounts:lifecycle"})
    async with system.client("accounts") as admin, system.client("accounts", token) as ada:
        account = await new_account(admin)

        # When she disconnects it
        started = ok(
            await ada.post(f"/accounts/{account['id']}/disconnect", json={"reason": "unpaid"}), 202
        )
        await completed_disconnect(admin, started["id"])

        # Then the history says she did, and why
        history = ok(await admin.get(f"/accounts/{account['id']}/history"))["items"]
        # And so does the audit log
        audit = ok(await admin.get("/audit-log", params={"actor": "Ada Lovelace"}))["items"]
    [requested] = [entry for entry in history if entry["change"] == "disconnect_requested"]
    assert requested["actor"] == "Ada Lovelace"
    assert requested["cause"] == "unpaid"
    resource = f"/accounts/{account['id']}/disconnect"
    assert [entry["action"] for entry in audit if entry["resource"] == resource] == [
        "POST /accounts/{account_id}/disconnect"
    ]
    # And what the break-glass token did is the operator's
    [created] = [entry for entry in history if entry["change"] == "created"]
    assert created["actor"] == "operator"


async def test_a_scheduled_disconnect_is_recorded_as_whoever_scheduled_it(system: System) -> None:
    # Given a planner whose token may schedule disconnects
    token = system.issuer.token("Grace Hopper", {"scheduler:write", "accounts:lifecycle"})
    async with (
        system.client("accounts") as admin,
        system.client("scheduler") as scheduler,
        system.client("scheduler", token) as grace,
    ):
        account = await new_account(admin)

        # When she schedules one, and it comes due
        body = {
            "event_type": "disconnect_account",
            "account_id": account["id"],
            "run_at": at(1.0),
            "payload": {"reason": "end of contract"},
        }
        event = ok(await grace.post("/scheduled-events", json=body), 201)
        assert event["scheduled_by"] == "Grace Hopper"
        done = await event_in_state(scheduler, event["id"], ("completed", "failed"))
        assert done["state"] == "completed", done

        # Then the disconnect it set off is hers, with the cause `scheduled`
        history = ok(await admin.get(f"/accounts/{account['id']}/history"))["items"]
    [requested] = [entry for entry in history if entry["change"] == "disconnect_requested"]
    assert requested["actor"] == "Grace Hopper"
    assert requested["cause"] == "scheduled"
    assert requested["details"]["reason"] == "end of contract"
    assert requested["details"]["scheduled_event_id"] == event["id"]


async def test_services_ask_each_other_with_their_own_identities_not_the_callers_token(
    system: System,
) -> None:
    # Given a reader whose token holds accounts:read and nothing of billing, addresses or scheduler
    token = system.issuer.token("auditor", {"accounts:read"})
    async with system.client("accounts") as admin, system.client("accounts", token) as reader:
        account = await new_account(admin)

        # When the reader asks for a disconnect preview, which accounts builds by asking the others
        preview = ok(await reader.get(f"/accounts/{account['id']}/disconnect-preview"))

    # Then every other service answered accounts (its own token holds their read scopes)
    assert preview["unavailable"] == {}
    assert preview["uninvoiced_debits"] == {"count": 0, "total": 0, "currency": "USD"}
