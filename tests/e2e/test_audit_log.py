"""The audit log of every service: each write made through its API is recorded with time, actor,
action, resource and request id, in the transaction of the write; a refused write and an
Idempotency-Key replay record nothing."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.support.api import at, new_account, ok
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def entries_of(client: httpx.AsyncClient, request_id: str) -> list[dict[str, Any]]:
    page = ok(await client.get("/audit-log", params={"actor": "operator", "limit": 500}))
    return [entry for entry in page["items"] if entry["request_id"] == request_id]


async def test_every_service_records_a_write_with_its_actor_action_resource_and_request_id(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
    writes = {
        "accounts": ("POST", "/account-types", {"name": f"type-{uuid.uuid4().hex[:8]}"}),
        "billing": (
            "POST",
            f"/accounts/{account['id']}/debits",
            {"amount": 700, "description": "install"},
        ),
        "addresses": (
            "POST",
            "/serviceable-addresses",
            {
                "line1": f"{uuid.uuid4().hex[:8]} Audit Road",
                "city": "Springfield",
                "subdivision": "IL",
                "zip": "62701",
                "country": "US",
            },
        ),
        "scheduler": (
            "POST",
            "/scheduled-events",
            {"event_type": "disconnect_account", "account_id": account["id"], "run_at": at(3600)},
        ),
    }
    for service, (method, path, body) in writes.items():
        request_id = f"audit-{uuid.uuid4().hex}"
        async with system.client(service) as client:
            # When a write is made
            response = await client.request(
                method, path, json=body, headers={"X-Request-ID": request_id}
            )
            assert response.status_code == 201, response.text
            # Then it is in the service's audit log, once, with who, what and where
            [entry] = await entries_of(client, request_id)
        route = path.replace(str(account["id"]), "{account_id}")
        assert (entry["actor"], entry["action"], entry["resource"]) == (
            "operator",
            f"{method} {route}",
            path,
        ), service


async def test_a_refused_write_and_a_replay_record_nothing(system: System) -> None:
    async with system.client("accounts") as accounts:
        account = await new_account(accounts)
        refused, replayed = f"refused-{uuid.uuid4().hex}", f"replay-{uuid.uuid4().hex}"
        # A create refused with a 409 (the id is taken) writes nothing, so records nothing
        taken = await accounts.post(
            "/accounts",
            json={
                "id": account["id"],
                "name": "again",
                "account_type_id": account["account_type_id"],
            },
            headers={"X-Request-ID": refused},
        )
        assert taken.status_code == 409
        assert await entries_of(accounts, refused) == []
        # An Idempotency-Key replay returns the first answer and records nothing more
        key = {"Idempotency-Key": f"audit-{uuid.uuid4()}"}
        first = await accounts.post(
            f"/accounts/{account['id']}/disconnect", headers={**key, "X-Request-ID": replayed}
        )
        again = await accounts.post(
            f"/accounts/{account['id']}/disconnect", headers={**key, "X-Request-ID": refused}
        )
        assert first.status_code == again.status_code == 202
        assert len(await entries_of(accounts, replayed)) == 1
        assert await entries_of(accounts, refused) == []
