"""Group commit against a real PostgreSQL: requests arriving together share one transaction, each
keeps its own answer and its own audit record; an order that fails the transaction fails only its
own request; a transient failure answers the whole group; a request gone before its group started
is left out."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from cutover_contracts.topics import Topic
from cutover_kit import context
from cutover_kit.db import Database, UnitOfWork
from cutover_kit.errors import Conflict, DomainError
from cutover_kit.group_commit import GroupCommit
from cutover_kit.tables import audit_log, outbox

pytestmark = pytest.mark.infra


class Note(BaseModel):
    order: str


NOTE = Topic("test.group-commit.v1", "test", Note, "group commit test")  # type: ignore[arg-type]


class Groups:
    """Applies each order by publishing one event keyed by it ("refuse…" is refused), and keeps
    the size of every group it was handed."""

    def __init__(self, *, unreachable: bool = False, gate: asyncio.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.unreachable = unreachable
        # With a gate, the first group is held inside its transaction until the gate opens.
        self.gate = gate
        self.entered = asyncio.Event()

    async def apply(self, uow: UnitOfWork, orders: Sequence[str]) -> list[str | DomainError]:
        self.sizes.append(len(orders))
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.unreachable:
            raise ConnectionError("the database went away")
        results: list[str | DomainError] = []
        for order in orders:
            if order.startswith("refuse"):
                results.append(Conflict(f"{order} is refused"))
                continue
            await uow.publish(NOTE, Note(order=order), account_id=order)
            results.append(f"done {order}")
        return results


async def started(groups: Groups, database: Database) -> tuple[GroupCommit[str, str], asyncio.Task]:
    commits: GroupCommit[str, str] = GroupCommit(database, groups.apply)
    return commits, asyncio.create_task(commits.run())


async def submit(commits: GroupCommit[str, str], order: str) -> str | Exception:
    """One HTTP write's submission: its actor, its request id, the write it makes."""
    context.actor.set("operator")
    context.correlation_id.set(f"request-{order}")
    context.audited_write.set(("POST /notes", f"/notes/{order}"))
    try:
        return await commits.submit(order)
    except Exception as error:  # noqa: BLE001 - the test compares what each request was answered
        return error


async def audited(database: Database) -> dict[str, tuple[str, str, str]]:
    async with database.engine.connect() as connection:
        rows = await connection.execute(select(audit_log))
        return {row.request_id: (row.actor, row.action, row.resource) for row in rows}


async def published(database: Database) -> list[str]:
    async with database.engine.connect() as connection:
        return sorted((await connection.scalars(select(outbox.c.key))).all())


async def test_orders_arriving_together_share_one_transaction_each_with_its_answer_and_record(
    kit_database: Database,
) -> None:
    groups = Groups()
    commits, loop = await started(groups, kit_database)
    orders = [f"n{i}" for i in range(8)] + ["refuse-9"]
    answers = await asyncio.gather(*(submit(commits, order) for order in orders))
    loop.cancel()
    # One transaction for all nine, and each request its own answer: the refusal is only its own
    assert groups.sizes == [9]
    assert answers[:8] == [f"done n{i}" for i in range(8)]
    assert isinstance(answers[8], Conflict)
    # One audit record for each write made, under its own request id; none for the refused one
    assert await audited(kit_database) == {
        f"request-n{i}": ("operator", "POST /notes", f"/notes/n{i}") for i in range(8)
    }
    assert await published(kit_database) == [f"n{i}" for i in range(8)]


async def test_an_order_that_fails_the_transaction_fails_only_its_own_request(
    kit_database: Database,
) -> None:
    groups = Groups()
    commits, loop = await started(groups, kit_database)
    # A NUL character cannot be stored in text: the group's outbox write fails on it
    answers = await asyncio.gather(*(submit(commits, order) for order in ["a", "b\x00", "c"]))
    loop.cancel()
    # The group failed as a whole, then each order was done again alone
    assert groups.sizes == [3, 1, 1, 1]
    assert answers[0] == "done a" and answers[2] == "done c"
    assert isinstance(answers[1], DBAPIError)
    assert set(await audited(kit_database)) == {"request-a", "request-c"}
    assert await published(kit_database) == ["a", "c"]


async def test_a_transient_failure_answers_the_whole_group_and_writes_nothing(
    kit_database: Database,
) -> None:
    groups = Groups(unreachable=True)
    commits, loop = await started(groups, kit_database)
    answers = await asyncio.gather(*(submit(commits, order) for order in ["a", "b", "c"]))
    loop.cancel()
    # Not done again one by one: retrying an unreachable database at once cannot help (each
    # request is answered 503, retry)
    assert groups.sizes == [3]
    assert all(isinstance(answer, ConnectionError) for answer in answers)
    assert await audited(kit_database) == {}
    assert await published(kit_database) == []


async def test_a_request_gone_before_its_group_started_is_left_out(
    kit_database: Database,
) -> None:
    gate = asyncio.Event()
    groups = Groups(gate=gate)
    commits, loop = await started(groups, kit_database)
    # A first group is held inside its transaction
    first = asyncio.create_task(submit(commits, "first"))
    await asyncio.wait_for(groups.entered.wait(), timeout=10)
    # Meanwhile a request hands over its order, and its client gives up before the next group
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(submit(commits, "gone"), timeout=0.1)
    gate.set()
    assert await first == "done first"
    assert await submit(commits, "kept") == "done kept"
    loop.cancel()
    assert groups.sizes == [1, 1]
    assert await published(kit_database) == ["first", "kept"]
