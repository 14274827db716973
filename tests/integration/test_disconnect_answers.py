"""Billing's and addresses' answers applied by accounts in batches, against real PostgreSQL: each
disconnect completes once, when its second answer arrives, whatever the batch holds."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from cutover_accounts.adapters.tables import disconnects
from cutover_accounts.entrypoints.consumers import on_address_released, on_disconnect_billed
from cutover_accounts.service_layer import accounts
from cutover_accounts.service_layer import disconnects as disconnect_flow
from cutover_contracts import seeds
from cutover_contracts.envelope import decode_event
from cutover_contracts.events import DisconnectAddressReleasedV1, DisconnectBilledV1, FinalInvoice
from cutover_contracts.topics import (
    ACCOUNT_DISCONNECTED,
    DISCONNECT_ADDRESS_RELEASED,
    DISCONNECT_BILLED,
)
from cutover_kit.consumer import EventConsumer
from cutover_kit.db import Database
from cutover_kit.tables import outbox
from tests.support.records import record

pytestmark = pytest.mark.infra

RESIDENTIAL = seeds.RESIDENTIAL


def billed(disconnect_id: uuid.UUID, account_id: int, total: int) -> DisconnectBilledV1:
    return DisconnectBilledV1(
        disconnect_id=disconnect_id,
        account_id=account_id,
        final_invoice_state="issued",
        final_invoice=FinalInvoice(id=uuid.uuid4(), total=total, currency="USD"),
    )


def released(disconnect_id: uuid.UUID, account_id: int) -> DisconnectAddressReleasedV1:
    return DisconnectAddressReleasedV1(
        disconnect_id=disconnect_id,
        account_id=account_id,
        address_state="released",
        released_address_id=uuid.uuid4(),
    )


async def test_answers_in_batches_complete_each_disconnect_once(
    accounts_database: Database,
) -> None:
    started = []
    for n in range(3):
        account = await accounts.create_account(
            accounts_database.unit_of_work(), name=f"batch {n}", account_type_id=RESIDENTIAL
        )
        disconnect = await disconnect_flow.request_disconnect(
            accounts_database.unit_of_work(), account.id, step_timeout=timedelta(minutes=5)
        )
        started.append((disconnect.id, account.id))
    (d1, a1), (d2, a2), (d3, a3) = started
    consumer = EventConsumer(
        accounts_database,
        name="disconnect-answers",
        handlers={
            DISCONNECT_BILLED: on_disconnect_billed,
            DISCONNECT_ADDRESS_RELEASED: on_address_released,
        },
    )
    first_release_of_d1 = released(d1, a1)

    # One batch: both answers for d1 and d2 (billing's for d1 twice, under two event ids), billing's
    # only for d3
    await consumer.consume_batch(
        (
            record(DISCONNECT_BILLED, billed(d1, a1, 100), account_id=a1),
            record(DISCONNECT_ADDRESS_RELEASED, first_release_of_d1, account_id=a1),
            record(DISCONNECT_ADDRESS_RELEASED, released(d2, a2), account_id=a2),
            record(DISCONNECT_BILLED, billed(d2, a2, 200), account_id=a2),
            record(DISCONNECT_BILLED, billed(d3, a3, 300), account_id=a3),
            record(DISCONNECT_BILLED, billed(d1, a1, 999), account_id=a1),
        )
    )
    # A later batch: d3's second answer, and d1's address answer replayed
    await consumer.consume_batch(
        (
            record(DISCONNECT_ADDRESS_RELEASED, released(d3, a3), account_id=a3),
            record(DISCONNECT_ADDRESS_RELEASED, first_release_of_d1, account_id=a1),
        )
    )

    async with accounts_database.unit_of_work() as uow:
        rows = {
            row.id: row
            for row in await uow.session.execute(
                select(disconnects).where(disconnects.c.id.in_([d1, d2, d3]))
            )
        }
        completions = [
            decode_event(value).data
            for value in await uow.session.scalars(
                select(outbox.c.value).where(outbox.c.topic == ACCOUNT_DISCONNECTED.name)
            )
        ]
    assert {row.state for row in rows.values()} == {"completed"}
    assert [rows[d].final_invoice_total for d in (d1, d2, d3)] == [100, 200, 300]
    assert rows[d1].released_address_id == first_release_of_d1.released_address_id
    assert sorted(c["disconnect_id"] for c in completions) == sorted(str(d) for d in (d1, d2, d3))
    assert {c["final_invoice_total"] for c in completions} == {100, 200, 300}
