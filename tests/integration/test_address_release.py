"""Release on disconnect against real PostgreSQL: a redelivered or replayed disconnect releases once
and answers the same way."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from cutover_addresses.adapters.tables import address_history
from cutover_addresses.domain.model import ServiceableAddress
from cutover_addresses.entrypoints.consumers import on_disconnect_requested
from cutover_addresses.service_layer import addresses
from cutover_contracts.envelope import decode_event
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED, DISCONNECT_ADDRESS_RELEASED
from cutover_kit.consumer import EventConsumer
from cutover_kit.db import Database
from cutover_kit.tables import outbox
from tests.support.records import disconnect_request, record

pytestmark = pytest.mark.infra


class NoDirectory:
    async def lookup(self, account_id: int) -> None:
        raise AssertionError("every account here is known locally")


async def address_held_by(database: Database, account_id: int) -> ServiceableAddress:
    """A new address attached to `account_id`, which this service now knows."""
    async with database.unit_of_work() as uow:
        await uow.addresses.accounts.remember_account(account_id)
        await uow.commit()
    address = await addresses.create_address(
        database.unit_of_work(),
        line1=f"{account_id} Elm St",
        line2=None,
        city="Ely",
        subdivision="CB",
        zip="CB7",
        country="GB",
        latitude=None,
        longitude=None,
    )
    await addresses.attach_account(
        database.unit_of_work(),
        NoDirectory(),  # type: ignore[arg-type]
        address.id,
        account_id,
    )
    return address


async def test_a_redelivered_disconnect_releases_once_and_answers_the_same_way(
    addresses_database: Database,
) -> None:
    account_id = random.randint(1, 2**62)
    address = await address_held_by(addresses_database, account_id)
    request = disconnect_request(account_id)
    delivery = record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id)
    consumer = EventConsumer(
        addresses_database,
        name="address-release",
        handlers={ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested},
    )

    await consumer.consume_batch((delivery,))
    await consumer.consume_batch((delivery,))  # redelivered
    await consumer.consume_batch(  # replayed under a new event id
        (record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id),)
    )

    async with addresses_database.unit_of_work() as uow:
        releases = (
            await uow.session.execute(
                select(address_history.c.address_id, address_history.c.reason).where(
                    address_history.c.action == "release"
                )
            )
        ).all()
        answers = [
            decode_event(value).data
            for value in await uow.session.scalars(
                select(outbox.c.value).where(outbox.c.topic == DISCONNECT_ADDRESS_RELEASED.name)
            )
        ]
    assert [(row.address_id, row.reason) for row in releases] == [(address.id, "disconnect")]
    assert len(answers) == 2
    assert all(a["address_state"] == "released" for a in answers)
    assert {a["released_address_id"] for a in answers} == {str(address.id)}


async def test_a_batch_of_disconnects_releases_each_address_once(
    addresses_database: Database,
) -> None:
    """The set-based handler: several accounts in one batch, one without an address, a disconnect
    replayed within the batch, and a second disconnect of one account that finds nothing left."""
    holders = [random.randint(1, 2**62) for _ in range(3)]
    without = random.randint(1, 2**62)
    async with addresses_database.unit_of_work() as uow:
        await uow.addresses.accounts.remember_account(without)
        await uow.commit()
    held = {a: (await address_held_by(addresses_database, a)).id for a in holders}
    requests = [disconnect_request(a) for a in [*holders, without]]
    again = disconnect_request(holders[0])
    batch = [*requests, requests[1], again]
    consumer = EventConsumer(
        addresses_database,
        name="address-release",
        handlers={ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested},
    )

    await consumer.consume_batch(
        tuple(record(ACCOUNT_DISCONNECT_REQUESTED, r, account_id=r.account_id) for r in batch)
    )

    async with addresses_database.unit_of_work() as uow:
        releases = (
            await uow.session.execute(
                select(address_history.c.disconnect_id, address_history.c.address_id).where(
                    address_history.c.action == "release",
                    address_history.c.account_id.in_(holders),
                )
            )
        ).all()
        answers: dict[str, list[dict]] = {}
        for value in await uow.session.scalars(
            select(outbox.c.value).where(outbox.c.topic == DISCONNECT_ADDRESS_RELEASED.name)
        ):
            data = decode_event(value).data
            answers.setdefault(data["disconnect_id"], []).append(data)
    assert sorted(releases) == sorted((r.disconnect_id, held[r.account_id]) for r in requests[:3])
    for request in requests[:3]:
        assert {a["released_address_id"] for a in answers[str(request.disconnect_id)]} == {
            str(held[request.account_id])
        }
    assert len(answers[str(requests[1].disconnect_id)]) == 2
    for request in (requests[3], again):
        assert [a["address_state"] for a in answers[str(request.disconnect_id)]] == ["none"]
