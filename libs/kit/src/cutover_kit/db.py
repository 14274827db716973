"""The database and the unit of work: one transaction per request or per consumed batch.

Nothing but `UnitOfWork.commit` commits. A commit made for an HTTP write also writes its audit
record (`cutover_kit.audit`), so there is no write without one and no record without its write (a
group commit writes one for each request it carries out, `cutover_kit.group_commit`). Leaving the
`async with` block without committing rolls back, so an exception anywhere leaves no partial write.
Events are added to the outbox through the unit of work, in the same transaction as the state they
announce: they are kept in memory and written just before the commit, with the audit records and the
relay's wake-up, in one statement (a consumed batch may publish hundreds).

Each service subclasses `UnitOfWork` to expose its repositories (`uow.accounts`, ...), bound to the
transaction's session when the work opens, and hands the class to its `Database` (see
`ServiceRuntime`): use cases then never build a repository, so a test can give them a fake unit of
work.

A unit of work may be entered again while open (an Idempotency-Key wraps a use case that opens it
too): the inner block joins the outer transaction and only the outermost commit commits.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, NamedTuple, Protocol

from pydantic import BaseModel
from sqlalchemy import (
    ColumnElement,
    LargeBinary,
    Select,
    Text,
    UpdateBase,
    any_,
    bindparam,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeEngine

from cutover_contracts.envelope import CloudEvent, encode_event
from cutover_contracts.topics import Topic
from cutover_kit import context
from cutover_kit.tables import audit_log, outbox, processed_events

# deadlock_detected, serialization_failure, lock_not_available
CONFLICT_SQLSTATES = {"40P01", "40001", "55P03"}
UNREACHABLE: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    ConnectionError,
    OSError,
    TimeoutError,
)


def transient_kind(error: BaseException) -> str | None:
    """'conflict' or 'unreachable' when doing the same work again later can succeed (a consumed
    batch is redelivered, an HTTP client is told 503 and to retry), else None."""
    if isinstance(error, DBAPIError):
        if getattr(error.orig, "sqlstate", None) in CONFLICT_SQLSTATES:
            return "conflict"
        if error.connection_invalidated:
            return "unreachable"
    return "unreachable" if isinstance(error, UNREACHABLE) else None


# unique_violation, foreign_key_violation
INTEGRITY_SQLSTATES = {"23505": "duplicate", "23503": "missing-reference"}


def integrity_kind(error: BaseException) -> str | None:
    """'duplicate' (a unique violation) or 'missing-reference' (a foreign-key violation) when a
    write lost a race the use case did not settle itself (the other writer committed first), else
    None. The transaction is rolled back, so nothing was written."""
    if isinstance(error, IntegrityError):
        return INTEGRITY_SQLSTATES.get(getattr(error.orig, "sqlstate", None) or "")
    return None


def unstorable_value(error: BaseException) -> str | None:
    """PostgreSQL's reason when a request's value cannot be stored as given (SQLSTATE class 22,
    data exception: a NUL character in text, a number or time out of range), else None. Such a
    value is the caller's to fix, so it is a 4xx, never a 500; the transaction is rolled back."""
    if isinstance(error, DBAPIError):
        sqlstate = getattr(error.orig, "sqlstate", None) or ""
        if sqlstate.startswith("22"):
            # asyncpg's text reads "<class '…Error'>: invalid byte sequence …": keep the reason.
            return str(error.orig).split("\n", 1)[0].rpartition(">: ")[2]
    return None


# The namespace of answers' event ids (`UnitOfWork.answer`).
ANSWERS = uuid.UUID("6f1c1b0e-3f7b-4d51-9a84-6a1d3c2e0b11")


def rows_of(*, ordinality: str | None = None, **columns: tuple[str, TypeEngine[Any]]) -> Any:
    """Rows passed as one array per column (`column=(parameter name, element type)`), to select
    from: a statement whose text does not depend on the number of rows. A multi-row VALUES list is a
    new text for every row count, compiled again by SQLAlchemy and prepared again by PostgreSQL;
    this one is compiled once and prepared once per connection. It cost accounts about a tenth of
    its CPU when it applied batches of due events (py-spy, bench.mass_disconnect). `ordinality`
    names a column numbering the rows from 1."""
    return (
        func.unnest(*(bindparam(name, type_=ARRAY(kind)) for name, kind in columns.values()))
        .table_valued(*columns, with_ordinality=ordinality)
        .render_derived()
    )


def in_one_statement(*writes: UpdateBase, query: Select[Any] | None = None) -> Select[Any]:
    """`writes` (inserts, updates, deletes) as one statement: one round trip and one execution
    whatever their number. Each is a data-modifying CTE, which PostgreSQL runs in full whether or
    not `query` (by default `SELECT 1`) reads it; all see the snapshot the statement starts with, and
    foreign keys are checked at its end, so one write's rows may refer to another's."""
    statement = select(literal(1)) if query is None else query
    for n, write in enumerate(writes):
        statement = statement.add_cte(write.cte(f"write_{n}"))
    return statement


def any_of(column: ColumnElement[Any], values: Iterable[Any]) -> ColumnElement[bool]:
    """`column = ANY(:array)`, for `column.in_(values)`: an IN list is a new statement text for
    every length, so batches of varying size had their statements rendered and prepared anew
    (PostgreSQL parsing and planning each) where an array is one text, prepared once."""
    return column == any_(bindparam(None, list(values), type_=ARRAY(column.type)))


_OUTBOX_ROWS = rows_of(
    event_id=("event_ids", UUID(as_uuid=True)),
    topic=("topics", Text),
    key=("keys", Text),
    value=("values", LargeBinary),
)
OUTBOX_INSERT = (
    pg_insert(outbox)
    .from_select(["event_id", "topic", "key", "value"], select(_OUTBOX_ROWS))
    .on_conflict_do_nothing(index_elements=["event_id"])
)
# One record for an HTTP write, one each for the requests a group commit carries out together.
_AUDIT_ROWS = rows_of(
    actor=("audit_actors", Text),
    action=("audit_actions", Text),
    resource=("audit_resources", Text),
    request_id=("audit_request_ids", Text),
)
AUDIT_INSERT = audit_log.insert().from_select(
    ["actor", "action", "resource", "request_id"], select(_AUDIT_ROWS)
)
CLAIM_EVENTS = (
    pg_insert(processed_events)
    .from_select(
        ["consumer", "event_id"],
        select(
            bindparam("consumer", type_=Text),
            func.unnest(bindparam("event_ids", type_=ARRAY(UUID(as_uuid=True)))),
        ),
    )
    .on_conflict_do_nothing()
    .returning(processed_events.c.event_id)
)


def outbox_channel(service: str) -> str:
    """The LISTEN/NOTIFY channel that wakes the relay as soon as an outbox row commits."""
    return f"{service}_outbox"


class AuditRecord(NamedTuple):
    actor: str
    action: str
    resource: str
    request_id: str | None

    @classmethod
    def of_this_request(cls) -> AuditRecord | None:
        """The record of the HTTP write the current request makes, if it makes one."""
        write = context.audited_write.get()
        if write is None:
            return None
        return cls(context.actor.get(), *write, context.correlation_id.get())


class LocalRelay(Protocol):
    is_leader: bool

    def wake(self) -> None: ...


class Database:
    def __init__(
        self,
        url: str,
        *,
        service: str,
        pool_size: int = 10,
        unit_of_work: type[UnitOfWork] | None = None,
    ) -> None:
        self.url = url
        self.service = service
        self.unit_of_work_class = unit_of_work or UnitOfWork
        self.engine = create_async_engine(
            url,
            pool_size=pool_size,
            # No overflow: a connection opened past the pool is closed when returned, and under a
            # sustained load that churn (a new PostgreSQL backend each time) cost more CPU than
            # the waits it saved. Callers wait for a pooled connection instead.
            max_overflow=0,
            # No ping before every checkout (a round trip per transaction): a connection found dead
            # invalidates the pool, and the one request that met it is answered 503 (retry).
            pool_pre_ping=False,
            pool_recycle=1800,
        )
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # This process's outbox relay, when it has one (`OutboxRelay` sets it): while it leads, a
        # commit wakes it directly instead of through PostgreSQL (see `UnitOfWork.commit`).
        self.relay: LocalRelay | None = None

    def unit_of_work(self) -> UnitOfWork:
        """A fresh unit of work of the service's class, with its repositories."""
        return self.unit_of_work_class(self)

    async def ping(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    def __init__(self, database: Database) -> None:
        self.database = database
        self._committed = False
        self._channels: set[str] = set()
        self._outbox: list[dict[str, object]] = []
        self._audits: list[AuditRecord] = []
        self._depth = 0

    async def __aenter__(self) -> UnitOfWork:
        self._depth += 1
        if self._depth == 1:
            self.session: AsyncSession = self.database.sessionmaker()
            await self.session.begin()
            self.bind(self.session)
        return self

    def bind(self, session: AsyncSession) -> None:
        """Set the service's repositories on this transaction's session (a subclass does)."""

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._depth -= 1
        if self._depth:
            return
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        if self._depth > 1:
            return  # the outermost block commits
        # While this process's relay leads, it is woken in the process after the commit: a NOTIFY
        # makes PostgreSQL serialise the commits of every transaction that sends one (a global
        # lock on its notification queue), which the hottest write should not pay for. Replicas
        # whose relay does not lead still NOTIFY the leader.
        relay = self.database.relay
        outbox_wake = outbox_channel(self.database.service)
        wake_locally = outbox_wake in self._channels and relay is not None and relay.is_leader
        if wake_locally:
            self._channels.discard(outbox_wake)
        await self._flush()
        await self.session.commit()
        self._committed = True
        if wake_locally and relay is not None:
            relay.wake()

    async def _flush(self) -> None:
        """Write what waited for the commit in one statement: the audit record of the HTTP write
        this commit carries out, the published events, and the wake-ups (NOTIFYs, delivered by
        PostgreSQL only if and when the transaction commits). One round trip instead of three
        for an HTTP write that publishes."""
        writes, parameters = [], {}
        audits, self._audits = self._audits, []
        if (current := AuditRecord.of_this_request()) is not None:
            audits.append(current)
        if audits:
            writes.append(AUDIT_INSERT)
            parameters |= {
                "audit_actors": [record.actor for record in audits],
                "audit_actions": [record.action for record in audits],
                "audit_resources": [record.resource for record in audits],
                "audit_request_ids": [record.request_id for record in audits],
            }
        rows, self._outbox = self._outbox, []
        if rows:
            writes.append(OUTBOX_INSERT)
            parameters |= {
                "event_ids": [row["event_id"] for row in rows],
                "topics": [row["topic"] for row in rows],
                "keys": [row["key"] for row in rows],
                "values": [row["value"] for row in rows],
            }
        notifies = [func.pg_notify(channel, "") for channel in sorted(self._channels)]
        if not writes and not notifies:
            return
        await self.session.execute(
            in_one_statement(*writes, query=select(*notifies) if notifies else None), parameters
        )

    def audit(self, record: AuditRecord) -> None:
        """Record, with this commit, an HTTP write made on another request's behalf (a group
        commit carries out several requests; each keeps its own record)."""
        self._audits.append(record)

    def notify_on_commit(self, channel: str) -> None:
        """Wake the listeners of `channel` (the relay, the scheduler) once this work commits."""
        self._channels.add(channel)

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """A nested transaction; events published inside it are dropped when it rolls back."""
        published = len(self._outbox)
        try:
            async with self.session.begin_nested():
                yield
        except BaseException:
            del self._outbox[published:]
            raise

    async def publish(
        self,
        topic: Topic,
        data: BaseModel,
        *,
        account_id: int | str,
        event_id: uuid.UUID | None = None,
        time: datetime | None = None,
        correlation_id: str | None = None,
    ) -> CloudEvent:
        """Add a CloudEvent to the outbox; the relay publishes it once this transaction commits.

        Pass a deterministic `event_id` when the event answers another one, so a redelivered
        request produces the same answer, not a second one. The correlation id is the current
        request's or event's unless given (a handler applying many events gives each its own).
        """
        event = CloudEvent(
            id=event_id or uuid.uuid4(),
            source=f"/cutover/{self.database.service}",
            type=topic.event_type,
            subject=str(account_id),
            time=time or datetime.now(UTC),
            correlationid=correlation_id or context.correlation_id.get(),
            data=data.model_dump(mode="json"),
        )
        self._outbox.append(
            {
                "event_id": event.id,
                "topic": topic.name,
                "key": str(account_id),
                "value": encode_event(event),
            }
        )
        self.notify_on_commit(outbox_channel(self.database.service))
        return event

    async def answer(
        self, request: CloudEvent, topic: Topic, data: BaseModel, *, account_id: int | str
    ) -> CloudEvent:
        """Publish the answer to a consumed event. Its id is derived from the request's, so a
        redelivered request is answered with the same event (consumers dedupe it) and a replayed
        one under a new id gets an answer of its own; it carries the request's correlation id."""
        return await self.publish(
            topic,
            data,
            account_id=account_id,
            event_id=uuid.uuid5(ANSWERS, f"{topic.name}/{request.id}"),
            correlation_id=request.correlationid,
        )

    async def claim_events(self, consumer: str, event_ids: list[uuid.UUID]) -> set[uuid.UUID]:
        """Record that `consumer` handles these events in this transaction; return the ones it had
        not handled before.

        A concurrent transaction claiming one of the same ids waits on the primary key until this
        one ends, then sees the row: two replicas handed the same event apply it once.
        """
        if not event_ids:
            return set()
        result = await self.session.execute(
            CLAIM_EVENTS, {"consumer": consumer, "event_ids": list(set(event_ids))}
        )
        return {row.event_id for row in result}
