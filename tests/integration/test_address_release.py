"""Release on disconnect against real PostgreSQL: a redelivered or replayed disconnect releases once
and answers the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from cutover_addresses.adapters.repository import AddressesRepository
from cutover_addresses.adapters.tables import address_history
from cutover_addresses.entrypoints.consumers import on_disconnect_requested
from cutover_addresses.service_layer import addresses
from cutover_contracts.envelope import decode_event
from cutover_contracts.events import AccountDisconnectRequestedV1
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED, DISCONNECT_ADDRESS_RELEASED
from cutover_kit.consumer import EventConsumer
from cutover_kit.db import Database
from cutover_kit.tables import outbox
from tests.support.records import record

pytestmark = pytest.mark.infra


class NoDirectory:
    async def lookup(self, account_id: int) -> None:
        raise AssertionError("every account here is known locally")


async def test_a_redelivered_disconnect_releases_once_and_answers_the_same_way(
    addresses_database: Database,
) -> None:
    account_id = 4242
    async with addresses_database.unit_of_work() as uow:
        await AddressesRepository(uow.session).accounts.remember_account(account_id)
        await uow.commit()
    address = await addresses.create_address(
        addresses_database.unit_of_work(),
        line1="9 Elm St",
        line2=None,
        city="Ely",
        subdivision="CB",
        zip="CB7",
        country="GB",
        latitude=None,
        longitude=None,
    )
    await addresses.attach_account(
        addresses_database.unit_of_work(),
        NoDirectory(),
        address.id,
        account_id,  # type: ignore[arg-type]
    )
    request = AccountDisconnectRequestedV1(
        disconnect_id=uuid.uuid4(),
        account_id=account_id,
        source="manual",
        status_id=uuid.UUID("00000000-0000-4000-8000-000000000003"),
        requested_at=datetime.now(UTC),
    )
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
