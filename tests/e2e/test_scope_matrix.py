"""The scope matrix: every route of every running service against the committed table of who may
call what (`tests/route_scopes.txt`), one request per route per case.

For each route: a token with every scope but one the route needs is refused (403 naming that
scope); a token with only the route's scopes gets through (neither 401 nor 403). For each service:
no token, and tokens wrong in each way a token can be (expired, another key, an unknown key, another
issuer or audience, no exp, no kid, `alg: none`, HS256 keyed with the public key) are 401s. A route
the OpenAPI document has and the table lacks fails the test, and so does a row for a route that is
gone. The requests name ids that do not exist and send empty bodies, so nothing is written.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.system import System
from tests.support.tokens import ALL_SCOPES

pytestmark = pytest.mark.e2e

TABLE = Path(__file__).resolve().parents[1] / "route_scopes.txt"
Route = tuple[str, str]  # (method, path)
# Ids that exist nowhere: a request that gets through answers 404 or 422 and writes nothing.
NO_ACCOUNT = "8999999999999999"


def committed_table() -> dict[str, dict[Route, frozenset[str] | None]]:
    """service → (method, path) → the scopes its caller needs, None for an open route."""
    table: dict[str, dict[Route, frozenset[str] | None]] = {}
    for line in TABLE.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        service, method, path, *scopes = line.split()
        needed = None if scopes == ["open"] else frozenset(scopes)
        assert needed is None or needed <= ALL_SCOPES, f"unknown scope in {line!r}"
        table.setdefault(service, {})[(method, path)] = needed
    return table


def documented_routes(spec: dict[str, Any]) -> set[Route]:
    return {
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
    }


def url_of(path: str) -> str:
    """The path with ids that do not exist: accounts are numbers, everything else a UUID."""
    url = path.replace("{account_id}", NO_ACCOUNT)
    while "{" in url:
        start, end = url.index("{"), url.index("}")
        url = url[:start] + str(uuid.uuid4()) + url[end + 1 :]
    return url


class Caller:
    """One request per (route, token), a few at a time: the services share two cores."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.limit = asyncio.Semaphore(8)
        self.clients = {
            name: httpx.AsyncClient(base_url=system[name].url, timeout=10.0)
            for name in system.services
        }

    async def call(self, service: str, route: Route, token: str | None) -> httpx.Response:
        method, path = route
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        body = {} if method in ("POST", "PUT", "PATCH") else None
        async with self.limit:
            return await self.clients[service].request(
                method, url_of(path), headers=headers, json=body
            )

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def gather_all(calls: list[Awaitable[str | None]]) -> list[str]:
    """The failures among the calls' outcomes (each returns None when it held)."""
    return [outcome for outcome in await asyncio.gather(*calls) if outcome is not None]


async def test_every_route_of_every_service_needs_exactly_the_scopes_of_the_committed_table(
    system: System,
) -> None:
    table = committed_table()
    assert set(table) == set(system.services), "one block of rows per service"
    caller = Caller(system)
    tokens: dict[frozenset[str], str] = {}

    def token_with(scopes: frozenset[str]) -> str:
        if scopes not in tokens:
            tokens[scopes] = system.issuer.token("matrix", scopes)
        return tokens[scopes]

    async def refused_without(service: str, route: Route, scope: str) -> str | None:
        response = await caller.call(service, route, token_with(ALL_SCOPES - {scope}))
        body = response.json() if response.status_code == 403 else {}
        if (
            body.get("type") == "urn:cutover:problem:insufficient-scope"
            and body.get("missing_scopes") == [scope]
            and scope in body.get("detail", "")
        ):
            return None
        return f"{service} {route} without {scope}: {response.status_code} {response.text[:200]}"

    async def let_through_with(
        service: str, route: Route, scopes: frozenset[str] | None
    ) -> str | None:
        response = await caller.call(service, route, None if scopes is None else token_with(scopes))
        if response.status_code not in (401, 403):
            return None
        return f"{service} {route} with {sorted(scopes or [])}: {response.status_code} {response.text[:200]}"

    try:
        # Given each service's OpenAPI document and the committed table
        missing, stale, calls = [], [], []
        for service, rows in table.items():
            spec = (await caller.clients[service].get("/openapi.json")).json()
            documented = documented_routes(spec)
            missing += [
                f"{service} {method} {path}" for method, path in sorted(documented - set(rows))
            ]
            stale += [
                f"{service} {method} {path}" for method, path in sorted(set(rows) - documented)
            ]
            # When every route is called with a token lacking each of its scopes, and with one
            # holding only its scopes
            for route, scopes in rows.items():
                calls += [refused_without(service, route, scope) for scope in sorted(scopes or [])]
                calls.append(let_through_with(service, route, scopes))

        # Then the table covers the documents exactly, and every route answers as it says
        assert not missing, f"routes missing from {TABLE.name}: {missing}"
        assert not stale, f"rows of {TABLE.name} for routes that are gone: {stale}"
        assert len(calls) > 100
        failures = await gather_all(calls)
        assert not failures, "\n".join(failures)
    finally:
        await caller.close()


async def test_no_token_and_every_kind_of_bad_token_is_a_401_on_every_service(
    system: System,
) -> None:
    table = committed_table()
    caller = Caller(system)
    refused = {"no token": None, **system.issuer.refused_tokens()}

    async def unauthorized(service: str, route: Route, case: str, token: str | None) -> str | None:
        response = await caller.call(service, route, token)
        if (
            response.status_code == 401
            and response.json()["type"] == "urn:cutover:problem:unauthorized"
        ):
            return None
        return f"{service} {route} {case}: {response.status_code} {response.text[:200]}"

    try:
        calls = []
        for service, rows in table.items():
            # A route any valid token with every scope would get through
            route = next(route for route, scopes in rows.items() if scopes and route[0] == "GET")
            calls += [unauthorized(service, route, case, token) for case, token in refused.items()]
        failures = await gather_all(calls)
        assert not failures, "\n".join(failures)
    finally:
        await caller.close()
