"""The accounts service's rules, each through the public API of the running system."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import (
    ACTIVE,
    COMMERCIAL,
    INACTIVE,
    LEAD,
    RESIDENTIAL,
    attach,
    completed_disconnect,
    debit,
    disconnect,
    new_account,
    new_address,
    ok,
    problem,
)
from tests.support.events import wait_until
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_statuses_and_types_are_seeded_and_extensible(system: System) -> None:
    async with system.client("accounts") as accounts:
        statuses = {s["name"]: s for s in ok(await accounts.get("/account-statuses"))["items"]}
        assert statuses["Lead"]["activates_account"] is False
        assert statuses["Active"]["activates_account"] is True
        assert statuses["Inactive"]["activates_account"] is False
        types = {t["name"] for t in ok(await accounts.get("/account-types"))["items"]}
        assert {"Residential", "Commercial", "Government"} <= types

        name = f"Suspended-{uuid.uuid4().hex[:6]}"
        created = ok(
            await accounts.post(
                "/account-statuses", json={"name": name, "activates_account": False}
            ),
            201,
        )
        assert created["name"] == name
        problem(
            await accounts.post(
                "/account-statuses", json={"name": name, "activates_account": True}
            ),
            409,
            "account-status-name-taken",
        )
        kind = f"Wholesale-{uuid.uuid4().hex[:6]}"
        ok(await accounts.post("/account-types", json={"name": kind}), 201)
        problem(await accounts.post("/account-types", json={"name": kind}), 409)


async def test_the_disconnect_status_is_configurable_but_never_an_activating_one(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        assert ok(await accounts.get("/settings"))["disconnect_account_status_id"] == INACTIVE
        problem(
            await accounts.put("/settings", json={"disconnect_account_status_id": ACTIVE}),
            422,
            "disconnect-status-must-not-activate",
        )
        problem(
            await accounts.put(
                "/settings", json={"disconnect_account_status_id": str(uuid.uuid4())}
            ),
            422,
            "unknown-account-status",
        )
        churned = ok(
            await accounts.post(
                "/account-statuses",
                json={"name": f"Churned-{uuid.uuid4().hex[:6]}", "activates_account": False},
            ),
            201,
        )
        try:
            ok(
                await accounts.put(
                    "/settings", json={"disconnect_account_status_id": churned["id"]}
                )
            )
            account = await new_account(accounts)
            done = await disconnect(accounts, account["id"])
            assert done["status_id"] == churned["id"]
            shown = ok(await accounts.get(f"/accounts/{account['id']}"))
            assert shown["account_status_id"] == churned["id"]
        finally:
            ok(await accounts.put("/settings", json={"disconnect_account_status_id": INACTIVE}))


async def test_accounts_take_a_chosen_id_a_type_a_status_and_a_parent(system: System) -> None:
    async with system.client("accounts") as accounts:
        chosen = 7_000_000 + uuid.uuid4().int % 1_000_000
        account = await new_account(accounts, id=chosen, account_status_id=LEAD)
        assert account["id"] == chosen
        assert account["activated_at"] is None
        problem(
            await accounts.post(
                "/accounts", json={"id": chosen, "name": "again", "account_type_id": RESIDENTIAL}
            ),
            409,
            "account-id-taken",
        )
        problem(
            await accounts.post(
                "/accounts",
                json={"name": "x", "account_type_id": RESIDENTIAL, "parent_account_id": 9 * 10**17},
            ),
            422,
            "unknown-parent-account",
        )
        problem(
            await accounts.post(
                "/accounts", json={"name": "x", "account_type_id": str(uuid.uuid4())}
            ),
            422,
            "unknown-account-type",
        )
        problem(
            await accounts.post(
                "/accounts", json={"name": "x", "account_type_id": RESIDENTIAL, "colour": "red"}
            ),
            422,
            "validation-error",
        )
        child = await new_account(accounts, parent_account_id=chosen)
        children = ok(await accounts.get(f"/accounts/{chosen}/children"))["items"]
        assert [c["id"] for c in children] == [child["id"]]


async def test_lists_filter_sort_and_page_with_a_cursor(system: System) -> None:
    async with system.client("accounts") as accounts:
        tag = uuid.uuid4().hex[:8]
        made = [
            await new_account(accounts, name=f"{tag}-{n}", account_type_id=COMMERCIAL)
            for n in range(5)
        ]
        seen, cursor = [], None
        while True:
            params = {"q": tag, "sort": "-name", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = ok(await accounts.get("/accounts", params=params))
            seen += [item["name"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == sorted((a["name"] for a in made), reverse=True)
        by_type = ok(
            await accounts.get("/accounts", params={"q": tag, "account_type_id": RESIDENTIAL})
        )
        assert by_type["items"] == []
        problem(await accounts.get("/accounts", params={"sort": "colour"}), 422, "invalid-sort")
        problem(
            await accounts.get("/accounts", params={"cursor": "garbage"}), 422, "invalid-cursor"
        )
        first = ok(await accounts.get("/accounts", params={"q": tag, "limit": 1}))
        problem(
            await accounts.get(
                "/accounts", params={"q": tag, "sort": "-id", "cursor": first["next_cursor"]}
            ),
            422,
            "invalid-cursor",
        )
        problem(await accounts.get("/accounts", params={"limit": 501}), 422)


async def _changed_since(accounts: httpx.AsyncClient, since: str, **params: Any) -> list[Any]:
    """Every account changed since `since`, read one a page as a late consumer would."""
    seen, cursor = [], None
    while True:
        query = {
            "updated_since": since,
            "limit": 1,
            **params,
            **({"cursor": cursor} if cursor else {}),
        }
        page = ok(await accounts.get("/accounts", params=query))
        seen += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_a_late_consumer_catches_up_with_updated_since(system: System) -> None:
    async with system.client("accounts") as accounts:
        # Given three accounts, the first created before the time the consumer catches up from
        tag = uuid.uuid4().hex[:8]
        await new_account(accounts, name=f"{tag}-before")
        first = await new_account(accounts, name=f"{tag}-first")
        second = await new_account(accounts, name=f"{tag}-second")
        since = first["updated_at"]

        # When the first is edited after the second was created
        ok(await accounts.patch(f"/accounts/{first['id']}", json={"name": f"{tag}-renamed"}))

        # Then updated_since pages them in the order they last changed, the edit last
        changed = await _changed_since(accounts, since, q=tag)
        assert [a["name"] for a in changed] == [f"{tag}-second", f"{tag}-renamed"]
        assert changed[0]["updated_at"] <= changed[1]["updated_at"]
        # and an explicit sort still wins
        newest_first = ok(
            await accounts.get(
                "/accounts", params={"q": tag, "updated_since": since, "sort": "-updated_at"}
            )
        )
        assert [a["id"] for a in newest_first["items"]] == [first["id"], second["id"]]

        # When the second is disconnected, then archived: each is a change
        await disconnect(accounts, second["id"])
        after_disconnect = await _changed_since(accounts, since, q=tag)
        assert [a["id"] for a in after_disconnect] == [first["id"], second["id"]]
        assert after_disconnect[1]["disconnected_at"] is not None
        archived = ok(await accounts.post(f"/accounts/{second['id']}/archive"))
        assert archived["updated_at"] > after_disconnect[1]["updated_at"]
        # an archived account is still hidden unless asked for, as in every list
        assert [a["id"] for a in await _changed_since(accounts, since, q=tag)] == [first["id"]]
        everything = await _changed_since(accounts, since, q=tag, include_archived="true")
        assert [a["id"] for a in everything] == [first["id"], second["id"]]
        assert everything[1]["archived_at"] is not None

        # Only an RFC 3339 time with an offset is a time
        for bad in ("yesterday", "2026-12-01T00:00:00", "0.5"):
            problem(await accounts.get("/accounts", params={"updated_since": bad}), 422)


async def test_edits_follow_the_rules(system: System) -> None:
    async with system.client("accounts") as accounts:
        parent = await new_account(accounts)
        child = await new_account(accounts, parent_account_id=parent["id"])
        renamed = ok(await accounts.patch(f"/accounts/{child['id']}", json={"name": "Renamed"}))
        assert renamed["name"] == "Renamed"
        # No cycles: a parent cannot become the child of its own child
        problem(
            await accounts.patch(
                f"/accounts/{parent['id']}", json={"parent_account_id": child["id"]}
            ),
            422,
            "parent-account-cycle",
        )
        problem(
            await accounts.patch(
                f"/accounts/{parent['id']}", json={"parent_account_id": parent["id"]}
            ),
            422,
            "parent-account-cycle",
        )
        # Leaving an activating status is a disconnect, not an edit
        problem(
            await accounts.patch(f"/accounts/{child['id']}", json={"account_status_id": INACTIVE}),
            409,
            "use-disconnect",
        )
        # A lead made active is an activation
        lead = await new_account(accounts, account_status_id=LEAD)
        active = ok(
            await accounts.patch(f"/accounts/{lead['id']}", json={"account_status_id": ACTIVE})
        )
        assert active["activated_at"] is not None
        problem(await accounts.patch(f"/accounts/{lead['id']}", json={"name": None}), 422)


async def test_accounts_are_never_deleted(system: System) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        body = problem(
            await accounts.delete(f"/accounts/{account['id']}"), 405, "accounts-are-never-deleted"
        )
        assert "disconnect" in body["detail"] and "archive" in body["detail"]
        ok(await accounts.get(f"/accounts/{account['id']}"))


async def test_the_preview_lists_what_a_disconnect_will_do(system: System) -> None:
    async with (
        system.client("accounts") as accounts,
        system.client("billing") as billing,
        system.client("addresses") as addresses,
    ):
        parent = await new_account(accounts)
        child = await new_account(accounts, parent_account_id=parent["id"])
        await debit(billing, parent["id"], 1500)
        await debit(billing, parent["id"], 250)
        address = await new_address(addresses)
        await attach(addresses, address["id"], parent["id"])

        preview = ok(await accounts.get(f"/accounts/{parent['id']}/disconnect-preview"))

        assert preview["can_disconnect"] is True
        assert preview["account"]["id"] == parent["id"]
        assert preview["disconnect_status"]["id"] == INACTIVE
        assert preview["uninvoiced_debits"] == {"count": 2, "total": 1750, "currency": "USD"}
        assert preview["serviceable_address"]["id"] == address["id"]
        assert [c["id"] for c in preview["children_staying_active"]] == [child["id"]]
        assert any("child" in warning for warning in preview["warnings"])


async def test_the_preview_counts_only_the_children_that_are_active(system: System) -> None:
    async with system.client("accounts") as accounts:
        # Given a parent with an active child, a disconnected one, an archived one and a lead
        parent = await new_account(accounts)
        active = await new_account(accounts, parent_account_id=parent["id"])
        gone = await new_account(accounts, parent_account_id=parent["id"])
        await disconnect(accounts, gone["id"])
        archived = await new_account(accounts, parent_account_id=parent["id"])
        await disconnect(accounts, archived["id"])
        ok(await accounts.post(f"/accounts/{archived['id']}/archive"))
        await new_account(accounts, parent_account_id=parent["id"], account_status_id=LEAD)

        preview = ok(await accounts.get(f"/accounts/{parent['id']}/disconnect-preview"))

        # Then only the active child stays active, and the warning counts one
        assert [c["id"] for c in preview["children_staying_active"]] == [active["id"]]
        assert preview["children_staying_active_count"] == 1
        assert "1 child account(s) stay active" in " ".join(preview["warnings"])


async def test_the_preview_is_partial_not_an_error_when_a_service_is_down(system: System) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        system["billing"].kill()
        try:
            preview = ok(await accounts.get(f"/accounts/{account['id']}/disconnect-preview"))
            assert preview["uninvoiced_debits"] is None
            assert "billing" in preview["unavailable"]
            assert preview["can_disconnect"] is True
        finally:
            system["billing"].start()
            system["billing"].wait_ready()


async def test_disconnecting_a_parent_leaves_its_children_untouched(system: System) -> None:
    async with system.client("accounts") as accounts:
        parent = await new_account(accounts)
        child = await new_account(accounts, parent_account_id=parent["id"])
        await disconnect(accounts, parent["id"])
        after = ok(await accounts.get(f"/accounts/{child['id']}"))
        assert after["account_status_id"] == ACTIVE
        assert after["disconnected_at"] is None
        assert ok(await accounts.get(f"/accounts/{child['id']}/disconnects"))["items"] == []


async def test_reactivate_brings_back_a_disconnected_account_without_its_address(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        account = await new_account(accounts)
        problem(
            await accounts.post(f"/accounts/{account['id']}/reactivate"),
            409,
            "account-not-disconnected",
        )
        address = await new_address(addresses)
        await attach(addresses, address["id"], account["id"])
        await disconnect(accounts, account["id"])
        problem(
            await accounts.post(
                f"/accounts/{account['id']}/reactivate", json={"account_status_id": INACTIVE}
            ),
            422,
            "activating-status-required",
        )
        back = ok(await accounts.post(f"/accounts/{account['id']}/reactivate"))
        assert back["account_status_id"] == ACTIVE
        assert back["disconnected_at"] is None
        assert back["activated_at"] > account["activated_at"]
        problem(await addresses.get(f"/accounts/{account['id']}/serviceable-address"), 404)
        # A reactivated account can be disconnected again
        await disconnect(accounts, account["id"])


async def test_archive_only_a_disconnected_account_and_then_leave_it_alone(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        problem(
            await accounts.post(f"/accounts/{account['id']}/archive"),
            409,
            "account-not-disconnected",
        )
        await disconnect(accounts, account["id"])
        archived = ok(await accounts.post(f"/accounts/{account['id']}/archive"))
        assert archived["archived_at"] is not None

        problem(
            await accounts.post(f"/accounts/{account['id']}/reactivate"), 409, "account-archived"
        )
        problem(
            await accounts.patch(f"/accounts/{account['id']}", json={"name": "x"}),
            409,
            "account-archived",
        )
        problem(
            await accounts.post(f"/accounts/{account['id']}/disconnect"), 409, "account-archived"
        )
        problem(
            await accounts.post(
                "/accounts",
                json={
                    "name": "x",
                    "account_type_id": RESIDENTIAL,
                    "parent_account_id": account["id"],
                },
            ),
            422,
            "parent-account-archived",
        )
        listed = ok(await accounts.get("/accounts", params={"q": account["name"]}))["items"]
        assert listed == []
        shown = ok(
            await accounts.get("/accounts", params={"q": account["name"], "include_archived": True})
        )["items"]
        assert [a["id"] for a in shown] == [account["id"]]

        # Billing hears of it and refuses new debits
        async def refused() -> bool:
            response = await billing.post(
                f"/accounts/{account['id']}/debits", json={"amount": 100, "description": "late"}
            )
            return response.status_code == 409

        await wait_until(refused, within=10)


async def test_history_records_every_change_with_actor_cause_and_correlation(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        ok(
            await accounts.post(
                f"/accounts/{account['id']}/disconnect",
                json={"reason": "unpaid"},
                headers={"X-Request-ID": "history-req-1"},
            ),
            202,
        )

        async def full_history() -> list[dict] | None:
            items = ok(await accounts.get(f"/accounts/{account['id']}/history"))["items"]
            return items if len(items) == 3 else None

        entries = await wait_until(full_history)
        assert [e["change"] for e in entries] == ["created", "disconnect_requested", "disconnected"]
        requested = entries[1]
        assert requested["actor"] == "operator"
        assert requested["cause"] == "unpaid"
        assert requested["correlation_id"] == "history-req-1"
        assert entries[2]["correlation_id"] == "history-req-1"


async def test_ten_concurrent_disconnects_give_one_202_nine_409_and_one_final_invoice(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        await debit(billing, account["id"], 4200)
        responses = await asyncio.gather(
            *(accounts.post(f"/accounts/{account['id']}/disconnect") for _ in range(10))
        )
        statuses = sorted(response.status_code for response in responses)
        assert statuses == [202] + [409] * 9
        accepted = next(r for r in responses if r.status_code == 202).json()
        done = await completed_disconnect(accounts, accepted["id"])
        invoices = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]
        assert [(i["kind"], i["total"]) for i in invoices] == [("final", 4200)]
        assert done["final_invoice"]["id"] == invoices[0]["id"]


async def test_an_idempotency_key_returns_the_first_answer_and_refuses_another_body(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        key = {"Idempotency-Key": f"disconnect-{uuid.uuid4()}"}
        url = f"/accounts/{account['id']}/disconnect"
        first = ok(await accounts.post(url, json={"reason": "moving"}, headers=key), 202)
        again = ok(await accounts.post(url, json={"reason": "moving"}, headers=key), 202)
        assert again == first
        problem(
            await accounts.post(url, json={"reason": "other"}, headers=key),
            422,
            "idempotency-key-reused",
        )
        assert len(ok(await accounts.get(f"/accounts/{account['id']}/disconnects"))["items"]) == 1
        # Concurrent retries with one key create one account
        create_key = {"Idempotency-Key": f"create-{uuid.uuid4()}"}
        body = {"name": "once", "account_type_id": RESIDENTIAL}
        created = await asyncio.gather(
            *(accounts.post("/accounts", json=body, headers=create_key) for _ in range(5))
        )
        assert {r.status_code for r in created} == {201}
        assert len({r.json()["id"] for r in created}) == 1


@pytest.mark.parametrize("start", ["active", "disconnected"])
@pytest.mark.parametrize("racer", ["reactivate", "archive"])
async def test_a_disconnect_racing_another_lifecycle_action_ends_in_an_allowed_state(
    system: System, racer: str, start: str
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        url = f"/accounts/{account['id']}"
        if start == "disconnected":
            await disconnect(accounts, account["id"])
        responses = await asyncio.gather(
            accounts.post(f"{url}/disconnect"), accounts.post(f"{url}/{racer}")
        )
        assert {r.status_code for r in responses} <= {200, 202, 409}
        for started in (r.json() for r in responses if r.status_code == 202):
            await completed_disconnect(accounts, started["id"])

        final = ok(await accounts.get(url))
        pending = [
            d
            for d in ok(await accounts.get(f"{url}/disconnects"))["items"]
            if d["state"] != "completed"
        ]
        assert pending == []
        if final["archived_at"]:
            assert final["disconnected_at"] is not None
        if final["disconnected_at"] is None:
            assert final["account_status_id"] == ACTIVE
        else:
            assert final["account_status_id"] == INACTIVE
