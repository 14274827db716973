"""A service killed with SIGKILL mid-flow (its HTTP, relay and consumers die together) and started
again finishes the work in flight: every disconnect completes, with exactly one final invoice and
one address release each."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.support.events import wait_until
from tests.support.system import System

RESIDENTIAL = "00000000-0000-4000-8000-000000000101"

pytestmark = [pytest.mark.e2e, pytest.mark.faults]


async def given_accounts_with_debits_and_addresses(
    system: System, count: int, tag: str
) -> list[int]:
    async with (
        system.client("accounts") as accounts,
        system.client("billing") as billing,
        system.client("addresses") as addresses,
    ):
        ids = []
        for n in range(count):
            account = (
                await accounts.post(
                    "/accounts", json={"name": f"{tag}-{n}", "account_type_id": RESIDENTIAL}
                )
            ).json()
            await billing.post(
                f"/accounts/{account['id']}/debits",
                json={"amount": 1000 + n, "description": "plan"},
            )
            address = (
                await addresses.post(
                    "/serviceable-addresses",
                    json={
                        "line1": f"{n} {tag} Road",
                        "city": "Metropolis",
                        "subdivision": "NY",
                        "zip": "10001",
                        "country": "US",
                    },
                )
            ).json()
            response = await addresses.put(
                f"/serviceable-addresses/{address['id']}/account",
                json={"account_id": account["id"]},
            )
            assert response.status_code == 200, response.text
            ids.append(account["id"])
        return ids


async def disconnect_all(accounts: httpx.AsyncClient, ids: list[int]) -> list[str]:
    responses = await asyncio.gather(*(accounts.post(f"/accounts/{i}/disconnect") for i in ids))
    assert all(response.status_code == 202 for response in responses)
    return [response.json()["id"] for response in responses]


@pytest.mark.parametrize("victim", ["billing", "addresses", "accounts"])
async def test_a_service_killed_mid_flow_finishes_the_work_after_restart(
    system: System, victim: str
) -> None:
    ids = await given_accounts_with_debits_and_addresses(system, 20, f"crash-{victim}")
    async with system.client("accounts") as accounts:
        # When the disconnects are in flight and the victim dies without warning
        disconnect_ids = await disconnect_all(accounts, ids)
        system[victim].kill()
        system[victim].start()
        system[victim].wait_ready()

        # Then every disconnect completes
        async def all_completed() -> list[dict] | None:
            bodies = [(await accounts.get(f"/disconnects/{d}")).json() for d in disconnect_ids]
            return bodies if all(body["state"] == "completed" for body in bodies) else None

        completed = await wait_until(all_completed, within=60)

    # With exactly one final invoice per disconnect, holding that account's debit
    async with system.client("billing") as billing, system.client("addresses") as addresses:
        for account_id, disconnect in zip(ids, completed, strict=True):
            assert disconnect["final_invoice_state"] == "issued"
            assert disconnect["address_state"] == "released"
            invoices = (await billing.get(f"/accounts/{account_id}/invoices")).json()["items"]
            finals = [invoice for invoice in invoices if invoice["kind"] == "final"]
            assert len(finals) == 1
            assert finals[0]["disconnect_id"] == disconnect["id"]
            assert finals[0]["total"] == disconnect["final_invoice"]["total"]
            uninvoiced = (await billing.get(f"/accounts/{account_id}/uninvoiced")).json()
            assert uninvoiced["count"] == 0
            address = (
                await addresses.get(f"/serviceable-addresses/{disconnect['released_address_id']}")
            ).json()
            assert address["account_id"] is None
