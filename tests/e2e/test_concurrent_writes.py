"""Concurrent writes through the running system: a race is settled by the database and answered
with a 4xx problem, never a 500, and never leaves a state the rules forbid."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from tests.support.api import RESIDENTIAL, new_account, ok, problem
from tests.support.system import System

pytestmark = pytest.mark.e2e

CONTENDERS = 8
ROUNDS = 10
PARENT_ROUNDS = 30


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


async def ancestors(accounts: httpx.AsyncClient, account_id: int) -> list[int]:
    """The account's parent chain through the API, stopping at the first id seen twice."""
    chain: list[int] = []
    parent = ok(await accounts.get(f"/accounts/{account_id}"))["parent_account_id"]
    while parent is not None and parent not in chain:
        chain.append(parent)
        if parent == account_id:
            break
        parent = ok(await accounts.get(f"/accounts/{parent}"))["parent_account_id"]
    return chain


@pytest.mark.parametrize("shape", ["pair", "ring"])
async def test_opposite_parent_changes_at_once_never_make_a_cycle(
    system: System, shape: str
) -> None:
    """`pair`: 1 → parent 2 and 2 → parent 1. `ring`: with 2 already a child of 3, 1 → parent 2
    and 3 → parent 1, which would close 1 → 2 → 3 → 1."""
    outcomes: Counter[tuple[int, ...]] = Counter()
    cycles: list[tuple[int, list[int]]] = []
    async with system.client("accounts") as accounts:
        for _ in range(PARENT_ROUNDS):
            # Given accounts without a cycle
            one, two, three = [(await new_account(accounts))["id"] for _ in range(3)]
            if shape == "ring":
                ok(await accounts.patch(f"/accounts/{two}", json={"parent_account_id": three}))
            closing = two if shape == "pair" else three

            # When two parent changes that would close a cycle together are made at once
            responses = await asyncio.gather(
                accounts.patch(f"/accounts/{one}", json={"parent_account_id": two}),
                accounts.patch(f"/accounts/{closing}", json={"parent_account_id": one}),
            )

            outcomes[tuple(sorted(response.status_code for response in responses))] += 1
            for response in responses:
                if response.status_code == 422:
                    problem(response, 422, "parent-account-cycle")
            for account_id in (one, two, three):
                chain = await ancestors(accounts, account_id)
                if account_id in chain:
                    cycles.append((account_id, chain))

    # Then in every round one change was applied and the other refused as a cycle,
    # and no account ever became its own ancestor
    assert cycles == [], (
        f"{len(cycles)} accounts are their own ancestor, e.g. {cycles[:3]}; outcomes {outcomes}"
    )
    assert outcomes == {(200, 422): PARENT_ROUNDS}, f"outcomes: {dict(outcomes)}"
