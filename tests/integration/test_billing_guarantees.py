"""Billing's guarantees against real PostgreSQL: one final invoice per disconnect whatever the
redelivery or concurrency, every debit on exactly one invoice, gapless numbers, and a crash before
commit that leaves nothing behind."""

from __future__ import annotations

import asyncio
import random
import uuid

import pytest
from sqlalchemy import func, select, text

from cutover_billing.adapters.tables import debits, invoice_number, invoices
from cutover_billing.domain.errors import NothingToInvoice
from cutover_billing.entrypoints.consumers import on_disconnect_requested
from cutover_billing.service_layer import billing
from cutover_contracts.envelope import decode_event
from cutover_contracts.topics import ACCOUNT_DISCONNECT_REQUESTED, DISCONNECT_BILLED
from cutover_kit.consumer import EventConsumer
from cutover_kit.db import Database
from cutover_kit.tables import outbox
from tests.support.records import disconnect_request, record

pytestmark = pytest.mark.infra


class NoDirectory:
    """Every account in these tests is known locally; asking the accounts API would be a bug."""

    async def lookup(self, account_id: int) -> None:
        raise AssertionError(f"unexpected lookup of {account_id}")


async def account_with_debits(database: Database, amounts: list[int]) -> int:
    account_id = random.randint(1, 2**62)
    async with database.unit_of_work() as uow:
        await uow.billing.accounts.remember_account(account_id)
        await uow.commit()
    for amount in amounts:
        await billing.post_debit(
            database.unit_of_work(),
            NoDirectory(),
            account_id,  # type: ignore[arg-type]
            amount=amount,
            currency="USD",
            description=f"{amount} worth",
        )
    return account_id


def final_invoice_consumer(database: Database) -> EventConsumer:
    return EventConsumer(
        database,
        name="final-invoice",
        handlers={ACCOUNT_DISCONNECT_REQUESTED: on_disconnect_requested},
    )


async def answers_for(database: Database, disconnect_id: uuid.UUID) -> list[dict]:
    async with database.unit_of_work() as uow:
        values = await uow.session.scalars(
            select(outbox.c.value).where(outbox.c.topic == DISCONNECT_BILLED.name)
        )
        answers = [decode_event(value).data for value in values]
    return [answer for answer in answers if answer["disconnect_id"] == str(disconnect_id)]


async def debits_by_invoice(
    database: Database, account_id: int
) -> dict[uuid.UUID | None, list[int]]:
    async with database.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(debits.c.invoice_id, debits.c.amount).where(debits.c.account_id == account_id)
        )
        grouped: dict[uuid.UUID | None, list[int]] = {}
        for invoice_id, amount in rows:
            grouped.setdefault(invoice_id, []).append(amount)
    return grouped


async def test_a_request_delivered_twice_or_to_two_replicas_yields_one_final_invoice(
    billing_database: Database,
) -> None:
    account_id = await account_with_debits(billing_database, [1200, 300])
    request = disconnect_request(account_id)
    delivery = record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id)
    replicas = [final_invoice_consumer(billing_database) for _ in range(2)]

    # Two replicas handed the same delivery at once (a rebalance), then a plain redelivery
    await asyncio.gather(*(replica.consume_batch((delivery,)) for replica in replicas))
    await replicas[0].consume_batch((delivery,))
    # And a replay of the same disconnect under a new event id
    replay = record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id)
    await replicas[1].consume_batch((replay,))

    async with billing_database.unit_of_work() as uow:
        finals = (
            await uow.session.execute(
                select(invoices.c.id, invoices.c.total).where(
                    invoices.c.disconnect_id == request.disconnect_id
                )
            )
        ).all()
    assert len(finals) == 1 and finals[0].total == 1500
    answers = await answers_for(billing_database, request.disconnect_id)
    assert len(answers) == 2  # one per distinct request event, never one per delivery
    assert {answer["final_invoice"]["id"] for answer in answers} == {str(finals[0].id)}


async def test_a_disconnect_with_nothing_owed_answers_not_required(
    billing_database: Database,
) -> None:
    account_id = await account_with_debits(billing_database, [])
    request = disconnect_request(account_id)
    await final_invoice_consumer(billing_database).consume_batch(
        (record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id),)
    )
    [answer] = await answers_for(billing_database, request.disconnect_id)
    assert answer["final_invoice_state"] == "not_required"
    assert answer["final_invoice"] is None


async def test_a_regular_invoice_racing_the_final_one_puts_every_debit_on_exactly_one(
    billing_database: Database,
) -> None:
    for _ in range(10):
        account_id = await account_with_debits(billing_database, [100, 200, 300, 400])
        request = disconnect_request(account_id)
        regular, _ = await asyncio.gather(
            billing.invoice_now(billing_database.unit_of_work(), NoDirectory(), account_id),  # type: ignore[arg-type]
            final_invoice_consumer(billing_database).consume_batch(
                (record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id),)
            ),
            return_exceptions=True,
        )
        assert not isinstance(regular, BaseException) or isinstance(regular, NothingToInvoice)
        grouped = await debits_by_invoice(billing_database, account_id)
        assert None not in grouped  # nothing left uninvoiced, nothing lost
        [(invoice_id, amounts)] = grouped.items()  # all four on one single invoice
        assert sorted(amounts) == [100, 200, 300, 400]


async def test_a_debit_posted_while_the_final_invoice_is_built_is_on_it_or_still_uninvoiced(
    billing_database: Database,
) -> None:
    account_id = await account_with_debits(billing_database, [1000])
    request = disconnect_request(account_id)
    late = [
        billing.post_debit(
            billing_database.unit_of_work(),
            NoDirectory(),
            account_id,  # type: ignore[arg-type]
            amount=amount,
            currency="USD",
            description="late",
        )
        for amount in range(1, 21)
    ]
    final = final_invoice_consumer(billing_database).consume_batch(
        (record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id),)
    )
    await asyncio.gather(*late[:10], final, *late[10:])

    grouped = await debits_by_invoice(billing_database, account_id)
    assert sorted(sum(grouped.values(), [])) == sorted([1000, *range(1, 21)])  # none lost
    assert set(grouped) <= {None, *[k for k in grouped if k is not None]}
    invoiced = {k: v for k, v in grouped.items() if k is not None}
    assert len(invoiced) == 1  # only the final invoice
    [(invoice_id, amounts)] = invoiced.items()
    assert 1000 in amounts
    async with billing_database.unit_of_work() as uow:
        total = await uow.session.scalar(
            select(invoices.c.total).where(invoices.c.id == invoice_id)
        )
    assert total == sum(amounts)


async def test_a_crash_before_commit_leaves_no_invoice_and_no_gap(
    billing_database: Database,
) -> None:
    account_id = await account_with_debits(billing_database, [700, 800])
    request = disconnect_request(account_id)
    delivery = record(ACCOUNT_DISCONNECT_REQUESTED, request, account_id=account_id)
    async with billing_database.unit_of_work() as uow:
        before = await uow.session.scalar(select(invoice_number.c.last_number))

    # The invoice is built, then the process dies before committing: its connection goes away
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a dead connection
        async with billing_database.unit_of_work() as uow:
            await on_disconnect_requested(uow, decode_event(delivery.value), request)
            pid = await uow.session.scalar(text("SELECT pg_backend_pid()"))
            async with billing_database.engine.connect() as killer:
                await killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            await uow.commit()

    async with billing_database.unit_of_work() as uow:
        assert (
            await uow.session.scalar(
                select(func.count()).where(invoices.c.disconnect_id == request.disconnect_id)
            )
            == 0
        )
        assert await uow.session.scalar(select(invoice_number.c.last_number)) == before

    # The redelivered event completes the work, with the next number
    await final_invoice_consumer(billing_database).consume_batch((delivery,))
    async with billing_database.unit_of_work() as uow:
        number = await uow.session.scalar(
            select(invoices.c.number).where(invoices.c.disconnect_id == request.disconnect_id)
        )
    assert number == before + 1


async def test_invoice_numbers_are_gapless_and_increasing(billing_database: Database) -> None:
    accounts = [await account_with_debits(billing_database, [10 * n + 1]) for n in range(1, 9)]
    results = await asyncio.gather(
        *(
            billing.invoice_now(billing_database.unit_of_work(), NoDirectory(), account_id)  # type: ignore[arg-type]
            for account_id in accounts
        ),
        # and attempts that roll back: nothing to invoice
        *(
            billing.invoice_now(billing_database.unit_of_work(), NoDirectory(), account_id)  # type: ignore[arg-type]
            for account_id in accounts[:3]
        ),
        return_exceptions=True,
    )
    issued = [r for r in results if not isinstance(r, BaseException)]
    assert len(issued) == 8
    assert all(isinstance(r, NothingToInvoice) for r in results if isinstance(r, BaseException))
    async with billing_database.unit_of_work() as uow:
        numbers = list(
            await uow.session.scalars(select(invoices.c.number).order_by(invoices.c.number))
        )
    assert numbers == list(range(1, len(numbers) + 1))
    by_time = sorted(issued, key=lambda invoice: invoice.issued_at)
    assert [i.number for i in by_time] == sorted(i.number for i in issued)


async def test_a_batch_of_requests_is_applied_as_if_one_by_one(billing_database: Database) -> None:
    """The set-based handler: many accounts in one batch, two disconnects of one account, a
    disconnect replayed in the same batch and one already answered in an earlier batch."""
    owing = [await account_with_debits(billing_database, [100 * n, 7]) for n in range(1, 6)]
    twice = await account_with_debits(billing_database, [900])
    nothing = await account_with_debits(billing_database, [])
    earlier = disconnect_request(owing[0])
    consumer = final_invoice_consumer(billing_database)
    await consumer.consume_batch(
        (record(ACCOUNT_DISCONNECT_REQUESTED, earlier, account_id=owing[0]),)
    )
    async with billing_database.unit_of_work() as uow:
        before = await uow.session.scalar(select(func.max(invoices.c.number)))

    requests = [earlier, *(disconnect_request(a) for a in owing[1:])]
    first_of_twice, second_of_twice = disconnect_request(twice), disconnect_request(twice)
    requests += [first_of_twice, second_of_twice, disconnect_request(nothing), requests[1]]
    await consumer.consume_batch(
        tuple(record(ACCOUNT_DISCONNECT_REQUESTED, r, account_id=r.account_id) for r in requests)
    )

    async with billing_database.unit_of_work() as uow:
        finals = {
            row.disconnect_id: row
            for row in await uow.session.execute(
                select(invoices).where(
                    invoices.c.disconnect_id.in_([r.disconnect_id for r in requests])
                )
            )
        }
    # One final invoice per disconnect that had debits, numbered on from the earlier batch
    assert finals[earlier.disconnect_id].number == before
    assert sorted(f.number for f in finals.values() if f.number > before) == list(
        range(before + 1, before + 6)
    )
    assert [finals[r.disconnect_id].total for r in requests[1:5]] == [207, 307, 407, 507]
    assert finals[first_of_twice.disconnect_id].total == 900
    assert second_of_twice.disconnect_id not in finals
    for request, state in [
        (earlier, "issued"),
        (requests[1], "issued"),
        (second_of_twice, "not_required"),
        (requests[7], "not_required"),
    ]:
        answers = await answers_for(billing_database, request.disconnect_id)
        assert answers and {a["final_invoice_state"] for a in answers} == {state}
    # The request replayed within the batch is answered twice, naming the same invoice
    replayed = await answers_for(billing_database, requests[1].disconnect_id)
    assert len(replayed) == 2
    assert {a["final_invoice"]["id"] for a in replayed} == {
        str(finals[requests[1].disconnect_id].id)
    }
    for account_id in [*owing, twice]:
        assert None not in await debits_by_invoice(billing_database, account_id)
