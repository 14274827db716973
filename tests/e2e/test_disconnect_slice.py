"""The thin slice, end to end through the real broker: create an account, give it debits and a
serviceable address, disconnect it; billing and addresses answer; accounts completes."""

from __future__ import annotations

import pytest

from cutover_contracts import seeds
from cutover_contracts.topics import ACCOUNT_DISCONNECTED
from tests.support.events import EventTap, wait_until
from tests.support.system import System

RESIDENTIAL, INACTIVE = str(seeds.RESIDENTIAL), str(seeds.INACTIVE)

pytestmark = pytest.mark.e2e


async def test_a_disconnect_issues_the_final_invoice_releases_the_address_and_completes(
    system: System,
) -> None:
    async with (
        system.client("accounts") as accounts,
        system.client("billing") as billing,
        system.client("addresses") as addresses,
        EventTap(system.infra, ACCOUNT_DISCONNECTED.name) as tap,
    ):
        # Given an account with two debits and a serviceable address
        response = await accounts.post(
            "/accounts", json={"name": "Ada Lovelace", "account_type_id": RESIDENTIAL}
        )
        assert response.status_code == 201, response.text
        account = response.json()
        for amount in (1999, 501):
            response = await billing.post(
                f"/accounts/{account['id']}/debits",
                json={"amount": amount, "description": "Fibre 1G"},
            )
            assert response.status_code == 201, response.text
        response = await addresses.post(
            "/serviceable-addresses",
            json={
                "line1": f"{account['id']} Main Street",
                "city": "Springfield",
                "subdivision": "IL",
                "zip": "62701",
                "country": "US",
            },
        )
        assert response.status_code == 201, response.text
        address = response.json()
        response = await addresses.put(
            f"/serviceable-addresses/{address['id']}/account", json={"account_id": account["id"]}
        )
        assert response.status_code == 200, response.text

        # When it is disconnected
        response = await accounts.post(
            f"/accounts/{account['id']}/disconnect",
            json={"reason": "moving away"},
            headers={"X-Request-ID": "slice-test-1"},
        )

        # Then the request is accepted and the account shows the disconnect status at once
        assert response.status_code == 202, response.text
        disconnect = response.json()
        assert disconnect["state"] == "pending"
        shown = (await accounts.get(f"/accounts/{account['id']}")).json()
        assert shown["account_status_id"] == INACTIVE
        assert shown["disconnected_at"] is not None

        # And the completion is published with the final invoice and the released address
        event = await tap.wait_for(lambda e: e.data["disconnect_id"] == disconnect["id"])
        assert event.subject == str(account["id"])
        assert event.correlationid == "slice-test-1"
        assert event.data["final_invoice_total"] == 2500
        assert event.data["released_address_id"] == address["id"]

        async def completed() -> dict | None:
            body = (await accounts.get(f"/disconnects/{disconnect['id']}")).json()
            return body if body["state"] == "completed" else None

        done = await wait_until(completed)
        assert done["final_invoice_state"] == "issued"
        assert done["final_invoice"]["total"] == 2500
        assert done["address_state"] == "released"
        invoice = (await billing.get(f"/invoices/{done['final_invoice']['id']}")).json()
        assert invoice["kind"] == "final"
        assert sum(line["amount"] for line in invoice["lines"]) == invoice["total"] == 2500
        released = (await addresses.get(f"/serviceable-addresses/{address['id']}")).json()
        assert released["account_id"] is None


async def test_a_disconnect_without_debits_or_address_completes_with_nothing_to_do(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        account = (
            await accounts.post("/accounts", json={"name": "Empty", "account_type_id": RESIDENTIAL})
        ).json()
        disconnect = (await accounts.post(f"/accounts/{account['id']}/disconnect")).json()

        async def completed() -> dict | None:
            body = (await accounts.get(f"/disconnects/{disconnect['id']}")).json()
            return body if body["state"] == "completed" else None

        done = await wait_until(completed)
        assert done["final_invoice_state"] == "not_required"
        assert done["final_invoice"] is None
        assert done["address_state"] == "none"
