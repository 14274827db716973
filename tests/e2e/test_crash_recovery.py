"""A service killed with SIGKILL in the middle of a consumed batch, while disconnects and scheduled
disconnects are in flight (its HTTP, relay, consumers and, for the scheduler, the emitter die
together), and started again finishes the work: every disconnect completes with exactly one final
invoice and one address release, and every scheduled event is emitted, none before its time.

To kill the victim inside a batch rather than between two, the test holds row locks the victim's
consumer needs, waits until PostgreSQL shows the victim's transaction waiting on them, and kills it
there: the batch has been fetched from Kafka and partly applied, nothing of it is committed."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest
from asyncpg.transaction import Transaction

from tests.support.api import attach, debit, new_account, new_address, ok
from tests.support.events import wait_until
from tests.support.infra import connect
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
    """Half due at once, half due 4 s on: some come due while a victim is down."""
    start = datetime.now(UTC)
    events = []
    for n, account_id in enumerate(ids):
        seconds = 0.3 + 0.1 * n if n < len(ids) // 2 else 4.0 + 0.2 * n
        body = {
            "event_type": "disconnect_account",
            "account_id": account_id,
            "run_at": (start + timedelta(seconds=seconds)).isoformat(),
        }
        events.append(ok(await scheduler.post("/scheduled-events", json=body), 201)["id"])
    return events


class RowLocks:
    """Row locks the test holds in one service's database until it releases them."""

    def __init__(self, connection: asyncpg.Connection, transaction: Transaction) -> None:
        self.connection, self.transaction = connection, transaction

    @classmethod
    async def take(cls, system: System, service: str, query: str, *args: object) -> RowLocks:
        """Run `query` (a SELECT … FOR UPDATE) in a transaction left open."""
        connection = await connect(system.infra, f"test_{service}")
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute(query, *args)
        return cls(connection, transaction)

    async def release(self) -> None:
        if not self.connection.is_closed():
            await self.transaction.rollback()
            await self.connection.close()


async def blocked_in_a_batch(system: System, service: str) -> None:
    """Wait until one of `service`'s transactions waits on a row lock the test holds."""
    observer = await connect(system.infra)
    try:

        async def waiting() -> bool:
            return bool(
                await observer.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = $1 AND wait_event_type = 'Lock'",
                    f"test_{service}",
                )
            )

        await wait_until(waiting, within=20)
    finally:
        await observer.close()


@pytest.mark.parametrize("victim", ["billing", "addresses", "accounts", "scheduler"])
async def test_a_service_killed_mid_batch_finishes_the_work_after_restart(
    system: System, victim: str
) -> None:
    ids = await given_accounts_with_debits_and_addresses(system, NOW + SCHEDULED)
    held: list[RowLocks] = []

    async def hold(service: str, query: str, *args: object) -> RowLocks:
        held.append(await RowLocks.take(system, service, query, *args))
        return held[-1]

    async with system.client("accounts") as accounts, system.client("scheduler") as scheduler:
        try:
            # Billing's invoice counter, held: no final invoice is issued, so no disconnect
            # completes, until the victim is stuck where the test wants it.
            gate = await hold("billing", "SELECT * FROM invoice_number FOR UPDATE")
            if victim == "addresses":
                await hold(
                    "addresses",
                    "SELECT id FROM serviceable_addresses WHERE account_id = ANY($1) FOR UPDATE",
                    ids,
                )

            # Given scheduled disconnects coming due and immediate disconnects in flight
            event_ids = await schedule_disconnects(scheduler, ids[NOW:])
            started = await asyncio.gather(
                *(accounts.post(f"/accounts/{i}/disconnect") for i in ids[:NOW])
            )
            disconnect_ids = [ok(response, 202)["id"] for response in started]

            # When the victim's consumer is stuck inside a batch
            if victim == "accounts":  # its answers consumer, on the disconnects' rows
                await hold(
                    "accounts",
                    "SELECT id FROM disconnects WHERE id = ANY($1::uuid[]) FOR UPDATE",
                    disconnect_ids,
                )
            elif victim == "scheduler":  # its outcomes consumer, on an event already emitted

                async def first_emitted() -> bool:
                    body = ok(await scheduler.get(f"/scheduled-events/{event_ids[0]}"))
                    return body["state"] != "pending"

                await wait_until(first_emitted, within=10)
                await hold(
                    "scheduler",
                    "SELECT id FROM scheduled_events WHERE id = $1::uuid FOR UPDATE",
                    event_ids[0],
                )
            if victim != "billing":
                await gate.release()  # the answers flow again, into the victim's locks
            await blocked_in_a_batch(system, victim)

            # And dies there without warning
            system[victim].kill()
        finally:
            for locks in held:
                await locks.release()
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
    # released once
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
