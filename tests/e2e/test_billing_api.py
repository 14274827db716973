"""Billing's API through the running system."""

from __future__ import annotations

import pytest

from tests.support.api import debit, new_account, ok, problem
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_debits_and_regular_invoices(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        # An account created a moment ago can be billed at once (billing asks accounts on a miss)
        account = await new_account(accounts)
        first = await debit(billing, account["id"], 1999)
        assert first["currency"] == "USD" and first["invoice_id"] is None
        await debit(billing, account["id"], 1)
        problem(
            await billing.post(
                f"/accounts/{account['id']}/debits",
                json={"amount": 5, "currency": "EUR", "description": "roaming"},
            ),
            422,
            "currency-mismatch",
        )
        assert ok(await billing.get(f"/accounts/{account['id']}/uninvoiced")) == {
            "count": 2,
            "total": 2000,
            "currency": "USD",
        }

        invoice = ok(await billing.post(f"/accounts/{account['id']}/invoices"), 201)
        assert invoice["kind"] == "regular" and invoice["total"] == 2000
        assert [line["amount"] for line in invoice["lines"]] == [1999, 1]
        problem(
            await billing.post(f"/accounts/{account['id']}/invoices"), 409, "nothing-to-invoice"
        )

        await debit(billing, account["id"], 500)
        uninvoiced = ok(
            await billing.get(f"/accounts/{account['id']}/debits", params={"invoiced": False})
        )
        assert [d["amount"] for d in uninvoiced["items"]] == [500]
        invoiced = ok(
            await billing.get(f"/accounts/{account['id']}/debits", params={"invoiced": True})
        )
        assert {d["invoice_id"] for d in invoiced["items"]} == {invoice["id"]}
        assert ok(await billing.get(f"/invoices/{invoice['id']}")) == invoice
        listed = ok(await billing.get(f"/accounts/{account['id']}/invoices"))["items"]
        assert [i["id"] for i in listed] == [invoice["id"]]


async def test_unknown_accounts_are_refused(system: System) -> None:
    async with system.client("billing") as billing:
        problem(
            await billing.post(
                "/accounts/999999999999/debits", json={"amount": 5, "description": "x"}
            ),
            404,
            "account-not-found",
        )
        problem(await billing.post("/accounts/999999999999/invoices"), 404, "account-not-found")
        problem(await billing.get("/invoices/00000000-0000-4000-8000-000000000000"), 404)
