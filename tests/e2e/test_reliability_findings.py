"""Each finding of the reliability review (issue 13), against the running system: a hostile record,
a retried debit, a peer that is down, a stuck step, an address for a disconnected account. Each of
these tests failed on the code before the fix."""

from __future__ import annotations

import hashlib
import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from cutover_contracts.topics import (
    ACCOUNT_DISCONNECT_ABANDONED,
    ACCOUNT_DISCONNECT_REQUESTED,
    dead_letter_topic,
)
from cutover_kit.relay import asyncpg_dsn
from tests.support.api import (
    ACTIVE,
    completed_disconnect,
    debit,
    disconnect,
    new_account,
    new_address,
    ok,
    problem,
)
from tests.support.contracts import schema_errors
from tests.support.events import EventTap, wait_until
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

REQUESTS = ACCOUNT_DISCONNECT_REQUESTED.name


async def produce_to_every_partition(system: System, topic: str, value: bytes, key: bytes) -> None:
    """The record on every partition of `topic`, so whatever comes next queues behind one."""
    producer = AIOKafkaProducer(**system.infra.kafka_options(), max_request_size=2_000_000)
    await producer.start()
    try:
        for partition in sorted(await producer.partitions_for(topic)):
            await producer.send_and_wait(topic, value, key=key, partition=partition)
    finally:
        await producer.stop()


async def letters_of(client: httpx.AsyncClient, topic: str, size: int) -> list[dict[str, object]]:
    body = ok(await client.get("/dead-letters", params={"topic": topic, "limit": 500}))
    return [letter for letter in body["items"] if letter["size"] == size]


async def test_an_oversized_record_is_dead_lettered_bounded_and_disconnects_keep_completing(
    system: System,
) -> None:
    huge = b"\xff" * 400_000
    async with EventTap(system.infra, dead_letter_topic("billing").name) as tap:
        # Given 400 KB of 0xFF on every partition of the topic billing and addresses consume
        await produce_to_every_partition(system, REQUESTS, huge, key=b"1")

        # Then a disconnect requested after it completes within 10 s
        async with system.client("accounts") as accounts:
            account = await new_account(accounts)
            started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)

            async def completed() -> bool:
                body = ok(await accounts.get(f"/disconnects/{started['id']}"))
                return body["state"] == "completed"

            await wait_until(completed, within=10)
        # And billing's dead letter on its topic is bounded, with the original's size and digest
        letter = await tap.wait_for(lambda e: e.data.get("original_size") == len(huge), within=20)
    assert letter.data["original_truncated"] is True
    assert letter.data["original_sha256"] == hashlib.sha256(huge).hexdigest()
    assert len(letter.data["original_value"].encode()) <= 64 * 1024
    # And each consuming service lists its letters, one per partition, and redrives none of them
    for service in ("billing", "addresses"):
        async with system.client(service) as client:
            letters = await letters_of(client, REQUESTS, len(huge))
            partitions = {letter["partition"] for letter in letters}
            assert len(letters) == len(partitions) >= 1, letters
            one = ok(await client.get(f"/dead-letters/{letters[0]['id']}"))
            assert one["state"] == "open" and one["truncated"] is True
            problem(await client.post(f"/dead-letters/{one['id']}/redrive"), 422, "redrive-failed")


async def test_a_long_or_nul_key_does_not_loop_its_partition(system: System) -> None:
    # Given bytes that do not decode, under a 400-character key with a NUL, on every partition
    key = b"k" * 400 + b"\x00"
    await produce_to_every_partition(system, REQUESTS, b"{not json", key=key)

    # Then disconnects behind it complete
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)
        await completed_disconnect(accounts, started["id"])
    # And the record was dead-lettered once per partition, its key kept
    async with system.client("billing") as billing:
        letters = await letters_of(billing, REQUESTS, len(b"{not json"))
    ours = [letter for letter in letters if str(letter["key"]).startswith("k" * 400)]
    assert len(ours) == len({letter["partition"] for letter in ours}) >= 1


async def test_a_retried_debit_is_charged_once(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        body = {"amount": 1500, "description": "router rental"}
        headers = {"Idempotency-Key": f"debit-{uuid.uuid4()}"}
        url = f"/accounts/{account['id']}/debits"

        # When the same debit is posted twice with one key
        first = ok(await billing.post(url, json=body, headers=headers), 201)
        second = ok(await billing.post(url, json=body, headers=headers), 201)

        # Then it is one debit, and the retry got the first answer
        assert second == first
        assert len(ok(await billing.get(url))["items"]) == 1
        # And the same key with another body is refused
        problem(
            await billing.post(url, json={**body, "amount": 1}, headers=headers),
            422,
            "idempotency-key-reused",
        )


@asynccontextmanager
async def accounts_hung(system: System) -> AsyncIterator[None]:
    """Accounts frozen (SIGSTOP): its port accepts, nothing answers."""
    process = system["accounts"].process
    assert process is not None
    os.kill(process.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(process.pid, signal.SIGCONT)


async def test_a_peer_that_is_down_or_hung_is_a_503_with_retry_after(system: System) -> None:
    unknown = 9_000_000_000 + uuid.uuid4().int % 1_000_000
    calls = [
        ("billing", "POST", f"/accounts/{unknown}/debits", {"amount": 1, "description": "x"}),
        ("scheduler", "POST", "/scheduled-events", None),
        ("addresses", "PUT", None, {"account_id": unknown}),
    ]
    async with system.client("addresses") as addresses:
        address = await new_address(addresses)

    async def answers() -> list[httpx.Response]:
        responses = []
        for service, method, path, body in calls:
            if service == "scheduler":
                body = {
                    "event_type": "disconnect_account",
                    "account_id": unknown,
                    "run_at": "2999-01-01T00:00:00Z",
                }
            if service == "addresses":
                path = f"/serviceable-addresses/{address['id']}/account"
            async with system.client(service) as client:
                responses.append(await client.request(method, path, json=body))
        return responses

    # When accounts is hung, then stopped, each service that must ask it answers 503
    async with accounts_hung(system):
        hung = await answers()
    system["accounts"].stop()
    try:
        down = await answers()
    finally:
        system["accounts"].start()
        system["accounts"].wait_ready()
    for response in hung + down:
        body = problem(response, 503, "peer-unavailable")
        assert body["peer"] == "accounts"
        assert int(response.headers["Retry-After"]) > 0
    # And once accounts is back, the same calls get their real answer: no such account
    for response in await answers():
        problem(response, 404, "account-not-found")


async def set_deadline_passed(system: System, disconnect_id: str) -> None:
    """Given a disconnect past its deadline (rather than wait the default five minutes)."""
    connection = await asyncpg.connect(asyncpg_dsn(system.infra.database_url("accounts")))
    try:
        await connection.execute(
            "UPDATE disconnects SET deadline_at = now() - interval '1 second' WHERE id = $1",
            uuid.UUID(disconnect_id),
        )
    finally:
        await connection.close()


async def test_a_stalled_disconnect_is_abandoned_and_the_account_is_no_longer_frozen(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        await debit(billing, account["id"], 2500)
        # Given billing down while a disconnect waits for its final invoice past the deadline
        system["billing"].stop()
        try:
            started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)

            async def address_answered() -> bool:
                body = ok(await accounts.get(f"/disconnects/{started['id']}"))
                return body["address_state"] != "pending"

            await wait_until(address_answered, within=10)
            await set_deadline_passed(system, started["id"])

            # Then it shows as stalled on the final invoice, and is listed as such
            shown = ok(await accounts.get(f"/disconnects/{started['id']}"))
            assert (shown["state"], shown["stalled_steps"]) == ("stalled", ["final_invoice"])
            stalled = ok(await accounts.get("/disconnects", params={"state": "stalled"}))
            assert started["id"] in {item["id"] for item in stalled["items"]}
            # And the account is frozen meanwhile
            problem(
                await accounts.post(f"/accounts/{account['id']}/reactivate"),
                409,
                "disconnect-in-progress",
            )

            # When an operator abandons it
            async with EventTap(
                system.infra, ACCOUNT_DISCONNECT_ABANDONED.name, principal="observer"
            ) as tap:
                abandoned = ok(
                    await accounts.post(
                        f"/disconnects/{started['id']}/abandon",
                        json={"reason": "billing is being migrated"},
                    )
                )
                event = await tap.wait_for(lambda e: e.data["disconnect_id"] == started["id"])
        finally:
            system["billing"].start()
            system["billing"].wait_ready()

        # Then it is abandoned, announced with who and why, and written in the history
        assert abandoned["state"] == "abandoned"
        assert abandoned["abandon_reason"] == "billing is being migrated"
        assert event.data["pending_steps"] == ["final_invoice"]
        assert schema_errors(*tap.raw[event.id]) == []  # as its AsyncAPI document says
        assert event.data["abandoned_by"] == abandoned["abandoned_by"] == "operator"
        history = ok(await accounts.get(f"/accounts/{account['id']}/history"))["items"]
        assert any(
            entry["change"] == "disconnect_abandoned"
            and entry["cause"] == "billing is being migrated"
            for entry in history
        )

        # And billing's late answer is recorded on it without completing it
        async def late_answer_recorded() -> bool:
            body = ok(await accounts.get(f"/disconnects/{started['id']}"))
            return body["final_invoice_state"] == "issued"

        await wait_until(late_answer_recorded, within=20)
        assert ok(await accounts.get(f"/disconnects/{started['id']}"))["state"] == "abandoned"
        # And the account is no longer frozen: it keeps its status and can be reactivated
        assert ok(await accounts.get(f"/accounts/{account['id']}"))["disconnected_at"]
        reactivated = ok(await accounts.post(f"/accounts/{account['id']}/reactivate"))
        assert reactivated["account_status_id"] == ACTIVE
        # And a disconnect can be retried or abandoned no more
        problem(
            await accounts.post(f"/disconnects/{started['id']}/retry"),
            409,
            "disconnect-not-pending",
        )


async def test_a_stalled_disconnect_retried_completes_with_one_final_invoice(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        account = await new_account(accounts)
        await debit(billing, account["id"], 1200)
        # Given addresses down while a disconnect waits past its deadline
        system["addresses"].stop()
        try:
            started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)

            async def invoiced() -> bool:
                body = ok(await accounts.get(f"/disconnects/{started['id']}"))
                return body["final_invoice_state"] == "issued"

            await wait_until(invoiced, within=10)
            await set_deadline_passed(system, started["id"])
            assert ok(await accounts.get(f"/disconnects/{started['id']}"))["stalled_steps"] == [
                "address"
            ]

            # When an operator retries it
            retried = ok(await accounts.post(f"/disconnects/{started['id']}/retry"), 202)
        finally:
            system["addresses"].start()
            system["addresses"].wait_ready()

        # Then it is pending again with a new deadline, and completes
        assert (retried["state"], retried["retries"]) == ("pending", 1)
        assert retried["deadline_at"] > started["deadline_at"]
        done = await completed_disconnect(accounts, started["id"])
        # And billing, asked twice, issued one final invoice
        invoices = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]
        assert [invoice["id"] for invoice in invoices] == [done["final_invoice"]["id"]]


async def test_a_disconnected_account_cannot_take_an_address_until_reactivated(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        account = await new_account(accounts)
        await disconnect(accounts, account["id"])
        address = await new_address(addresses)
        url = f"/serviceable-addresses/{address['id']}/account"

        # When an address is attached to the disconnected account, it is refused
        problem(
            await addresses.put(url, json={"account_id": account["id"]}),
            409,
            "account-disconnected",
        )
        assert (
            ok(await addresses.get(f"/serviceable-addresses/{address['id']}"))["account_id"] is None
        )

        # When the account is reactivated, the attach is accepted (once addresses has heard)
        ok(await accounts.post(f"/accounts/{account['id']}/reactivate"))

        async def attached() -> bool:
            response = await addresses.put(url, json={"account_id": account["id"]})
            return response.status_code == 200

        await wait_until(attached, within=10)
        shown = ok(await addresses.get(f"/accounts/{account['id']}/serviceable-address"))
        assert shown["id"] == address["id"]


@pytest.mark.parametrize(
    ("service", "path", "body"),
    [
        ("accounts", "/account-types", {"name": "nul\u0000type"}),
        ("billing", None, {"amount": 5, "description": "nul\u0000debit"}),
        (
            "addresses",
            "/serviceable-addresses",
            {
                "line1": "1 Nul Road",
                "city": "x\u0000y",
                "subdivision": "IL",
                "zip": "1",
                "country": "US",
            },
        ),
    ],
    ids=["accounts", "billing", "addresses"],
)
async def test_a_nul_character_in_text_is_a_422_not_a_500(
    system: System, service: str, path: str | None, body: dict[str, object]
) -> None:
    """Found by schemathesis' stateful run: PostgreSQL stores no NUL in text."""
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
    async with system.client(service) as client:
        response = await client.post(path or f"/accounts/{account['id']}/debits", json=body)
        body_ = problem(response, 422, "unstorable-value")
        assert "0x00" in body_["detail"]
