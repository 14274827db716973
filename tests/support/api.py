"""Small steps the end-to-end tests take through the public HTTP APIs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from cutover_contracts import seeds
from tests.support.events import wait_until

# The seeded ids, as the JSON bodies carry them
RESIDENTIAL, COMMERCIAL = str(seeds.RESIDENTIAL), str(seeds.COMMERCIAL)
LEAD, ACTIVE, INACTIVE = str(seeds.LEAD), str(seeds.ACTIVE), str(seeds.INACTIVE)


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    return response.json()


def problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, f"{response.status_code}: {response.text}"
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    if code:
        assert body["type"] == f"urn:cutover:problem:{code}", body
    return body


async def new_account(accounts: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": f"acct-{uuid.uuid4().hex[:8]}", "account_type_id": RESIDENTIAL, **fields}
    return ok(await accounts.post("/accounts", json=body), 201)


async def new_address(addresses: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "line1": f"{uuid.uuid4().hex[:10]} Main Street",
        "city": "Springfield",
        "subdivision": "IL",
        "zip": "62701",
        "country": "US",
        **fields,
    }
    return ok(await addresses.post("/serviceable-addresses", json=body), 201)


async def attach(addresses: httpx.AsyncClient, address_id: str, account_id: int) -> dict[str, Any]:
    return ok(
        await addresses.put(
            f"/serviceable-addresses/{address_id}/account", json={"account_id": account_id}
        )
    )


async def debit(billing: httpx.AsyncClient, account_id: int, amount: int) -> dict[str, Any]:
    return ok(
        await billing.post(
            f"/accounts/{account_id}/debits", json={"amount": amount, "description": "service"}
        ),
        201,
    )


async def completed_disconnect(
    accounts: httpx.AsyncClient, disconnect_id: str, within: float = 20
) -> dict[str, Any]:
    async def completed() -> dict[str, Any] | None:
        body = ok(await accounts.get(f"/disconnects/{disconnect_id}"))
        return body if body["state"] == "completed" else None

    return await wait_until(completed, within=within)


async def disconnect(accounts: httpx.AsyncClient, account_id: int, **body: Any) -> dict[str, Any]:
    started = ok(await accounts.post(f"/accounts/{account_id}/disconnect", json=body), 202)
    return await completed_disconnect(accounts, started["id"])


async def schedule(
    scheduler: httpx.AsyncClient, event_type: str, account_id: int, run_at: str, **payload: Any
) -> dict[str, Any]:
    """A scheduled event, created through the scheduler's API."""
    body = {
        "event_type": event_type,
        "account_id": account_id,
        "run_at": run_at,
        "payload": payload,
    }
    return ok(await scheduler.post("/scheduled-events", json=body), 201)


async def event_in_state(
    scheduler: httpx.AsyncClient, event_id: str, states: tuple[str, ...], within: float = 30
) -> dict[str, Any]:
    """The scheduled event once it reaches one of `states`."""

    async def reached() -> dict[str, Any] | None:
        body = ok(await scheduler.get(f"/scheduled-events/{event_id}"))
        return body if body["state"] in states else None

    return await wait_until(reached, within=within)


def at(seconds: float) -> str:
    """A `run_at` this many seconds from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
