"""Concurrent writes through the running system: a race is settled by the database and answered
with a 4xx problem, never a 500, and never leaves a state the rules forbid."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from tests.support.api import RESIDENTIAL, ok, problem
from tests.support.system import System

pytestmark = pytest.mark.e2e

CONTENDERS = 8
ROUNDS = 10


async def test_concurrent_creates_with_one_account_id_are_one_201_and_the_rest_409(
    system: System,
) -> None:
    async with system.client("accounts") as accounts:
        for round_number in range(ROUNDS):
            # Given an account id nobody has taken
            chosen = 8_000_000_000 + uuid.uuid4().int % 1_000_000_000
            body = {"id": chosen, "name": f"race-{round_number}", "account_type_id": RESIDENTIAL}

            # When eight clients create it at once
            responses = await asyncio.gather(
                *(accounts.post("/accounts", json=body) for _ in range(CONTENDERS))
            )

            # Then exactly one creates it and the others are told the id is taken
            statuses = Counter(response.status_code for response in responses)
            assert statuses == {201: 1, 409: CONTENDERS - 1}, (
                f"round {round_number}: {dict(statuses)}; "
                f"{[r.text for r in responses if r.status_code >= 500][:1]}"
            )
            for response in responses:
                if response.status_code == 409:
                    problem(response, 409, "account-id-taken")
            assert ok(await accounts.get(f"/accounts/{chosen}"))["name"] == body["name"]


async def test_concurrent_creates_of_one_name_or_address_are_one_201_and_the_rest_409(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        for round_number in range(3):
            # Given a status name, a type name and an address nobody has used
            tag = uuid.uuid4().hex[:8]
            creates: list[tuple[httpx.AsyncClient, str, dict[str, object], str]] = [
                (
                    accounts,
                    "/account-statuses",
                    {"name": f"Paused-{tag}", "activates_account": False},
                    "account-status-name-taken",
                ),
                (accounts, "/account-types", {"name": f"Campus-{tag}"}, "account-type-name-taken"),
                (
                    addresses,
                    "/serviceable-addresses",
                    {
                        "line1": f"{tag} Quay Street",
                        "city": "Springfield",
                        "subdivision": "IL",
                        "zip": "62701",
                        "country": "US",
                    },
                    "duplicate-serviceable-address",
                ),
            ]
            for client, path, body, code in creates:
                # When eight clients create it at once
                responses = await asyncio.gather(
                    *(client.post(path, json=body) for _ in range(CONTENDERS))
                )

                # Then one creates it and the others get the domain's own 409
                statuses = Counter(response.status_code for response in responses)
                assert statuses == {201: 1, 409: CONTENDERS - 1}, (
                    f"{path}, round {round_number}: {dict(statuses)}"
                )
                for response in responses:
                    if response.status_code == 409:
                        problem(response, 409, code)
