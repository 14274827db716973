"""Kafka stopped for 10 s, and PostgreSQL stopped and started, while disconnects are requested and
scheduled disconnects come due: HTTP keeps answering (writes land in the outboxes while Kafka is
down; a write is a 503 to retry while PostgreSQL is), services report not ready, then everything
catches up by itself: every disconnect completes with one final invoice, no scheduled event early."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from cutover_kit.http import NotReady, Readiness
from tests.support.api import (
    at,
    completed_disconnect,
    debit,
    event_in_state,
    new_account,
    ok,
    problem,
    schedule,
)
from tests.support.events import wait_until
from tests.support.system import System

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


def local_control(system: System):  # noqa: ANN201
    if system.infra.control is None:
        pytest.skip("needs the broker and cluster the suite started itself")
    return system.infra.control


async def scheduled_disconnects(system: System, seconds: list[float]) -> list[tuple[int, str]]:
    """Accounts with a debit of 700, each with a disconnect scheduled that many seconds on."""
    scheduled = []
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        async with system.client("scheduler") as scheduler:
            for delay in seconds:
                account = await new_account(accounts)
                await debit(billing, account["id"], 700)
                event = await schedule(scheduler, "disconnect_account", account["id"], at(delay))
                scheduled.append((account["id"], event["id"]))
    return scheduled


async def each_completes_once(system: System, scheduled: list[tuple[int, str]]) -> None:
    """Every scheduled disconnect emitted, none early, each with exactly one final invoice."""
    async with system.client("scheduler") as scheduler, system.client("billing") as billing:
        for account_id, event_id in scheduled:
            event = await event_in_state(scheduler, event_id, ("completed", "failed"), within=60)
            assert event["state"] == "completed", event
            assert event["emitted_at"] >= event["run_at"], event
            invoices = ok(await billing.get(f"/accounts/{account_id}/invoices"))["items"]
            assert [i["kind"] for i in invoices] == ["final"]


async def service_ready(system: System, name: str) -> bool:
    async with httpx.AsyncClient(timeout=3) as client:
        try:
            response = await client.get(f"{system[name].url}/readyz")
        except httpx.HTTPError:
            return False
    # Either answer is the one its OpenAPI describes
    if response.status_code != 200:
        NotReady.model_validate(response.json())
        return False
    Readiness.model_validate(response.json())
    return True


async def all_ready(system: System) -> bool:
    return all([await service_ready(system, name) for name in system.services])


async def test_a_kafka_outage_loses_and_doubles_nothing(system: System) -> None:
    control = local_control(system)
    scheduled = await scheduled_disconnects(system, [2.0, 3.0, 4.0])  # due during the outage
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        control.stop_kafka()
        try:
            # While the broker is down, the APIs keep taking writes
            started = []
            for _ in range(5):
                account = await new_account(accounts)
                await debit(billing, account["id"], 700)
                response = await accounts.post(f"/accounts/{account['id']}/disconnect")
                assert response.status_code == 202, response.text
                started.append((account["id"], response.json()["id"]))
            ready = (await accounts.get("/readyz")).status_code
            await asyncio.sleep(10)
        finally:
            control.start_kafka()
        assert ready == 503  # not ready without Kafka, but answering

        # Then everything catches up: each disconnect completes with exactly one final invoice
        for account_id, disconnect_id in started:
            done = await completed_disconnect(accounts, disconnect_id)
            assert done["final_invoice"]["total"] == 700
            invoices = ok(await billing.get(f"/accounts/{account_id}/invoices"))["items"]
            assert [i["kind"] for i in invoices] == ["final"]
    await each_completes_once(system, scheduled)
    await wait_until(lambda: all_ready(system), within=60)


async def test_a_postgresql_restart_makes_services_unready_then_they_recover(
    system: System,
) -> None:
    control = local_control(system)
    scheduled = await scheduled_disconnects(system, [1.0, 1.5, 2.0])  # due while it is down
    control.stop_postgres()
    try:
        # While it is down every service says so, and a write is a 503 to retry, never a 500
        async def none_ready() -> bool:
            return not any([await service_ready(system, name) for name in system.services])

        await wait_until(none_ready, within=30)
        async with system.client("accounts") as accounts:
            response = await accounts.post(
                "/accounts",
                json={"name": "during", "account_type_id": "00000000-0000-4000-8000-000000000101"},
            )
            problem(response, 503, "temporarily-unavailable")
    finally:
        control.start_postgres()
    await wait_until(lambda: all_ready(system), within=60)
    async with system.client("accounts") as accounts:
        # The first requests after the restart may meet a dropped connection; they must not 500

        async def created() -> dict | None:
            response = await accounts.post(
                "/accounts",
                json={
                    "name": "after restart",
                    "account_type_id": "00000000-0000-4000-8000-000000000101",
                },
            )
            assert response.status_code < 500 or response.status_code == 503, response.text
            return response.json() if response.status_code == 201 else None

        account = await wait_until(created, within=10, interval=0.5)
        started = ok(await accounts.post(f"/accounts/{account['id']}/disconnect"), 202)
        done = await completed_disconnect(accounts, started["id"])
        assert done["state"] == "completed"
    await each_completes_once(system, scheduled)
