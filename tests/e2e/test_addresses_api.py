"""Serviceable addresses through the running system."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.support.api import attach, disconnect, new_account, new_address, ok, problem
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_the_same_address_twice_is_a_conflict_naming_the_first(system: System) -> None:
    async with system.client("addresses") as addresses:
        street = f"{uuid.uuid4().hex[:6]} Harbour Street"
        first = await new_address(addresses, line1=street, line2="Apartment 2")
        again = problem(
            await addresses.post(
                "/serviceable-addresses",
                json={
                    "line1": street.upper().replace("STREET", "St."),
                    "line2": "apt 2",
                    "city": "springfield",
                    "subdivision": "il",
                    "zip": "62701",
                    "country": "us",
                },
            ),
            409,
            "duplicate-serviceable-address",
        )
        assert again["existing_address_id"] == first["id"]
        problem(
            await addresses.post(
                "/serviceable-addresses",
                json={"line1": "x", "city": "y", "subdivision": "z", "zip": "1", "country": "ZZ"},
            ),
            422,
        )


async def test_lists_filter_by_availability_and_text(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        town = f"Town{uuid.uuid4().hex[:6]}"
        free = await new_address(addresses, city=town)
        taken = await new_address(addresses, city=town)
        await attach(addresses, taken["id"], (await new_account(accounts))["id"])

        def ids(page: dict) -> list[str]:
            return [item["id"] for item in page["items"]]

        both = ok(await addresses.get("/serviceable-addresses", params={"q": town}))
        assert sorted(ids(both)) == sorted([free["id"], taken["id"]])
        available = ok(
            await addresses.get("/serviceable-addresses", params={"q": town, "available": True})
        )
        assert ids(available) == [free["id"]]
        occupied = ok(
            await addresses.get("/serviceable-addresses", params={"q": town, "available": False})
        )
        assert ids(occupied) == [taken["id"]]
        page = ok(await addresses.get("/serviceable-addresses", params={"q": town, "limit": 1}))
        rest = ok(
            await addresses.get(
                "/serviceable-addresses",
                params={"q": town, "limit": 1, "cursor": page["next_cursor"]},
            )
        )
        assert sorted(ids(page) + ids(rest)) == sorted(ids(both)) and rest["next_cursor"] is None


async def test_one_account_per_address_and_one_address_per_account(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        holder = await new_account(accounts)
        other = await new_account(accounts)
        address = await new_address(addresses)
        second = await new_address(addresses)
        attached = await attach(addresses, address["id"], holder["id"])
        assert attached["account_id"] == holder["id"]
        taken = problem(
            await addresses.put(
                f"/serviceable-addresses/{address['id']}/account", json={"account_id": other["id"]}
            ),
            409,
            "serviceable-address-taken",
        )
        assert taken["holder_account_id"] == holder["id"]
        problem(
            await addresses.put(
                f"/serviceable-addresses/{second['id']}/account", json={"account_id": holder["id"]}
            ),
            409,
            "account-has-serviceable-address",
        )
        problem(
            await addresses.put(
                f"/serviceable-addresses/{second['id']}/account",
                json={"account_id": 999_999_999_999},
            ),
            404,
            "account-not-found",
        )
        shown = ok(await addresses.get(f"/accounts/{holder['id']}/serviceable-address"))
        assert shown["id"] == address["id"]

        # Released by hand, the address is free again and its history keeps both steps
        released = ok(await addresses.delete(f"/serviceable-addresses/{address['id']}/account"))
        assert released["account_id"] is None
        problem(await addresses.delete(f"/serviceable-addresses/{address['id']}/account"), 409)
        history = ok(await addresses.get(f"/accounts/{holder['id']}/address-history"))["items"]
        assert [(h["action"], h["reason"]) for h in history] == [
            ("attach", "manual"),
            ("release", "manual"),
        ]


async def test_two_concurrent_attaches_to_one_address_one_wins_one_conflicts(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        address = await new_address(addresses)
        contenders = [await new_account(accounts) for _ in range(2)]
        responses = await asyncio.gather(
            *(
                addresses.put(
                    f"/serviceable-addresses/{address['id']}/account", json={"account_id": c["id"]}
                )
                for c in contenders
            )
        )
        assert sorted(r.status_code for r in responses) == [200, 409]
        winner = next(r.json() for r in responses if r.status_code == 200)
        assert (
            ok(await addresses.get(f"/serviceable-addresses/{address['id']}"))["account_id"]
            == winner["account_id"]
        )


async def test_a_disconnect_frees_the_address_for_a_new_account_at_once(system: System) -> None:
    async with system.client("accounts") as accounts, system.client("addresses") as addresses:
        leaving = await new_account(accounts)
        address = await new_address(addresses)
        await attach(addresses, address["id"], leaving["id"])
        done = await disconnect(accounts, leaving["id"])
        assert done["released_address_id"] == address["id"]

        newcomer = await new_account(accounts)
        assert (await attach(addresses, address["id"], newcomer["id"]))["account_id"] == newcomer[
            "id"
        ]
        history = ok(await addresses.get(f"/accounts/{leaving['id']}/address-history"))["items"]
        assert history[-1]["reason"] == "disconnect"
        assert history[-1]["disconnect_id"] == done["id"]
        problem(await addresses.get(f"/accounts/{leaving['id']}/serviceable-address"), 404)
