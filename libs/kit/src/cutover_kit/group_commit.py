"""Group commit: HTTP requests that arrive together share one transaction, each answered on its own.

A request hands its order to `GroupCommit.submit` and waits. One loop per process takes every order
waiting, applies them with one call of the use case (a few set-based statements for the whole
group, the same as for one order), writes each started order's audit record, commits once, and
answers each request with its own result or the rule that refused it. Nothing waits for a timer:
an order that finds the loop idle is applied at once, alone; orders that arrive while a group
commits form the next group. Under load a group of dozens costs the five round trips and the one
commit that each of them used to pay on its own.

What holds for one request holds for each order in a group: its own answer (a refusal of one
order is that request's 4xx, and does not touch the others), its own audit record (actor, action,
resource and request id), its own correlation id on its events and history. What the orders of a
group share is a transient failure of the transaction (the database unreachable, a deadlock): every
request of the group gets the same 503 and none of them wrote anything, as one request alone would.
A group that fails for any other reason (a value PostgreSQL cannot store, a race no rule settled) is
done again one order at a time, so that it fails only the request at fault. A request whose client
went away before its group started is left out of it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from cutover_kit.db import AuditRecord, Database, UnitOfWork, transient_kind
from cutover_kit.errors import DomainError

Order = TypeVar("Order")
Result = TypeVar("Result")
# Applies a group's orders inside an open unit of work: one result or refusal per order, in order.
Apply = Callable[[UnitOfWork, Sequence[Order]], Awaitable[list[Result | DomainError]]]


@dataclass
class _Waiting(Generic[Order, Result]):
    order: Order
    audit: AuditRecord | None
    answer: asyncio.Future[Result | DomainError] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class GroupCommit(Generic[Order, Result]):
    def __init__(self, database: Database, apply: Apply[Order, Result], *, most: int = 256) -> None:
        self.database = database
        self.apply = apply
        # A bound on one transaction's locks and statement sizes; more waiting form the next group.
        self.most = most
        self._waiting: asyncio.Queue[_Waiting[Order, Result]] = asyncio.Queue()

    async def submit(self, order: Order) -> Result:
        """Apply `order` in the next group and return its result, or raise its refusal (or the
        group's failure)."""
        waiting: _Waiting[Order, Result] = _Waiting(order, AuditRecord.of_this_request())
        self._waiting.put_nowait(waiting)
        result = await waiting.answer
        if isinstance(result, DomainError):
            raise result
        return result

    async def run(self) -> None:
        """The loop (a runtime task): one group at a time, as large as what is waiting."""
        while True:
            group = [await self._waiting.get()]
            while len(group) < self.most and not self._waiting.empty():
                group.append(self._waiting.get_nowait())
            group = [waiting for waiting in group if not waiting.answer.done()]
            try:
                await self._commit(group)
            except asyncio.CancelledError:
                _fail(group, ConnectionError("the service is stopping"))
                raise

    async def _commit(self, group: list[_Waiting[Order, Result]]) -> None:
        if not group:
            return
        try:
            async with self.database.unit_of_work() as uow:
                results = await self.apply(uow, [waiting.order for waiting in group])
                for waiting, result in zip(group, results, strict=True):
                    if waiting.audit is not None and not isinstance(result, DomainError):
                        uow.audit(waiting.audit)
                await uow.commit()
        except Exception as error:  # noqa: BLE001 - each request answers it (503, 4xx, 500)
            if len(group) > 1 and transient_kind(error) is None:
                # Something about one order (a value PostgreSQL cannot store, a race no rule
                # settled) would fail every request of the group: each is done again alone, so
                # it fails only its own.
                for waiting in group:
                    await self._commit([waiting])
            else:
                _fail(group, error)
            return
        for waiting, result in zip(group, results, strict=True):
            if not waiting.answer.done():
                waiting.answer.set_result(result)

    async def close(self) -> None:
        """Nothing to release: the loop is a runtime task, cancelled when the process stops."""


def _fail(group: list[_Waiting[Any, Any]], error: BaseException) -> None:
    for waiting in group:
        if not waiting.answer.done():
            waiting.answer.set_exception(error)
