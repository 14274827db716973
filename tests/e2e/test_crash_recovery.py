"""A service killed with SIGKILL while disconnects and scheduled disconnects are in flight (its HTTP,
relay, consumers and, for the scheduler, the emitter die together) and started again finishes the
work: every disconnect completes with exactly one final invoice and one address release, and every
scheduled event is emitted, none before its time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.support.api import attach, debit, new_account, new_address, ok
from tests.support.events import wait_until
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

NOW, SCHEDULED = 12, 8  # immediate disconnects, scheduled ones


async def given_accounts_with_debits_and_addresses(system: System, count: int) -> list[int]:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        async with system.client("addresses") as addresses:

            async def one(n: int) -> int:
                account = await new_account(accounts)
                await debit(billing, account["id"], 1000 + n)
                await attach(addresses, (await new_address(addresses))["id"], account["id"])
                return account["id"]

            return list(await asyncio.gather(*(one(n) for n in range(count))))


async def schedule_disconnects(scheduler: httpx.AsyncClient, ids: list[int]) -> list[str]:
    """Due one after the other from 0.5 s on, so the emitter is at work when the victim dies."""
    start = datetime.now(UTC)
    events = []
    for n, account_id in enumerate(ids):
        body = {
            "event_type": "disconnect_account",
            "account_id": account_id,
            "run_at": (start + timedelta(seconds=0.5 + 0.25 * n)).isoformat(),
        }
        events.append(ok(await scheduler.post("/scheduled-events", json=body), 201)["id"])
    return events


@pytest.mark.parametrize("victim", ["billing", "addresses", "accounts", "scheduler"])
async def test_a_service_killed_mid_flow_finishes_the_work_after_restart(
    system: System, victim: str
) -> None:
    ids = await given_accounts_with_debits_and_addresses(system, NOW + SCHEDULED)
    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        # Given scheduled disconnects coming due and immediate disconnects in flight
        event_ids = await schedule_disconnects(scheduler, ids[NOW:])
        started = await asyncio.gather(
            *(accounts.post(f"/accounts/{i}/disconnect") for i in ids[:NOW])
        )
        disconnect_ids = [ok(response, 202)["id"] for response in started]

        # When the victim dies without warning once the first scheduled event has gone out
        async def first_emitted() -> bool:
            body = ok(await scheduler.get(f"/scheduled-events/{event_ids[0]}"))
            return body["state"] != "pending"

        await wait_until(first_emitted, within=10)
        system[victim].kill()
        system[victim].start()
        system[victim].wait_ready()

        # Then every scheduled event is emitted, none early, and its disconnect completes
        async def all_done() -> list[dict] | None:
            events = [ok(await scheduler.get(f"/scheduled-events/{e}")) for e in event_ids]
            return events if all(e["state"] in ("completed", "failed") for e in events) else None

        events = await wait_until(all_done, within=60)
        for event in events:
            assert event["state"] == "completed", event
            assert event["emitted_at"] >= event["run_at"], event
        disconnect_ids += [event["disconnect_id"] for event in events]

        # And every disconnect completes
        async def all_completed() -> list[dict] | None:
            bodies = [ok(await accounts.get(f"/disconnects/{d}")) for d in disconnect_ids]
            return bodies if all(body["state"] == "completed" for body in bodies) else None

        completed = await wait_until(all_completed, within=60)

    # With exactly one final invoice per disconnect, holding that account's debit, and the address
    # released
    async with system.client("billing") as billing, system.client("addresses") as addresses:
        for account_id, disconnect in zip(ids, completed, strict=True):
            assert disconnect["account_id"] == account_id
            assert disconnect["final_invoice_state"] == "issued"
            assert disconnect["address_state"] == "released"
            invoices = ok(await billing.get(f"/accounts/{account_id}/invoices"))["items"]
            finals = [invoice for invoice in invoices if invoice["kind"] == "final"]
            assert len(finals) == 1
            assert finals[0]["disconnect_id"] == disconnect["id"]
            assert finals[0]["total"] == disconnect["final_invoice"]["total"]
            assert ok(await billing.get(f"/accounts/{account_id}/uninvoiced"))["count"] == 0
            address_id = disconnect["released_address_id"]
            address = ok(await addresses.get(f"/serviceable-addresses/{address_id}"))
            assert address["account_id"] is None
            history = ok(await addresses.get(f"/accounts/{account_id}/address-history"))["items"]
            assert [h["action"] for h in history] == ["attach", "release"], history
