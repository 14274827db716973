"""The audit log of every service: each write made through its API is recorded with time, actor,
action, resource and request id, in the transaction of the write; a refused write and an
Idempotency-Key replay record nothing."""

from __future__ import annotations

import asyncio
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


async def test_disconnects_requested_together_are_each_recorded_under_their_own_request(
    system: System,
) -> None:
    """Disconnect requests arriving together start in one transaction (group commit): each keeps
    its own answer, its own audit record, and its own request id and reason in the history."""
    async with system.client("accounts") as accounts:
        ids = [(await new_account(accounts))["id"] for _ in range(6)]
        # A second request for the first account, and an account that does not exist
        targets = [*ids, ids[0], 2**62]
        request_ids = [f"together-{uuid.uuid4().hex}" for _ in targets]
        responses = await asyncio.gather(
            *(
                accounts.post(
                    f"/accounts/{target}/disconnect",
                    json={"reason": f"reason {n}"},
                    headers={"X-Request-ID": request_id},
                )
                for n, (target, request_id) in enumerate(zip(targets, request_ids, strict=True))
            )
        )
        statuses = [response.status_code for response in responses]
        assert sorted([statuses[0], statuses[6]]) == [202, 409]
        assert statuses[1:6] == [202] * 5 and statuses[7] == 404
        for n, (target, request_id, status) in enumerate(
            zip(targets, request_ids, statuses, strict=True)
        ):
            entries = await entries_of(accounts, request_id)
            if status != 202:
                assert entries == [], n
                continue
            [entry] = entries
            assert (entry["action"], entry["resource"]) == (
                "POST /accounts/{account_id}/disconnect",
                f"/accounts/{target}/disconnect",
            )
            history = ok(await accounts.get(f"/accounts/{target}/history"))["items"]
            [requested] = [e for e in history if e["change"] == "disconnect_requested"]
            assert (requested["correlation_id"], requested["cause"], requested["actor"]) == (
                request_id,
                f"reason {n}",
                "operator",
            )
