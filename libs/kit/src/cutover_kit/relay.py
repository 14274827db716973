"""The outbox relay: publishes committed outbox rows to Kafka, in order, and marks them published.

One relay per service publishes at a time, the holder of a **lease** (`relay_leases`, one row per
relay): an epoch, a holder and an expiry. The leader renews it at every batch, at least every third
of the lease (`CUTOVER_RELAY_LEASE_SECONDS`, default 5); a replica finding it expired takes it with
the next epoch. A leader that dies or hangs (SIGSTOP, a paused VM) thus loses leadership one lease
after its last renewal, however long its connections live, and another replica takes over.

A leader that wakes is **fenced**. Each batch is one transaction: it renews the lease *with the
leader's own epoch* before sending anything (which fails once another replica took the lease), keeps
the lease row locked while it sends and marks, and tells PostgreSQL to cut it after a lease of
inactivity (`idle_in_transaction_session_timeout`); a live leader waiting for Kafka renews every
third of the lease meanwhile, so only a frozen one is cut. So a leader frozen between batches finds
its epoch gone and sends nothing, and one frozen within a batch has lost its transaction and marks
nothing. What it cannot take back are the records it had already handed to its Kafka producer: the
producer may deliver them when the process wakes. Those rows were never marked, so the new leader
has published them again, in order, before anything newer of their keys: a late record is a second
copy of an event already delivered, which consumers skip like any redelivery (they dedupe on the
CloudEvent id). The README's Decisions say why this and not a transactional producer.

A row is marked published only after Kafka acknowledged it (idempotent producer, acks=all); a leader
killed between the two leaves the row to be published again, and consumers dedupe on the CloudEvent
id. Rows are read in id order and sent with an idempotent producer, which keeps order per partition,
so events of one account (one key, one partition) arrive in the order they were committed.

A relay never blocks on one row: a row Kafka refuses as a record (too large, invalid) is set aside
and kept as a dead letter of the relay's (`GET /dead-letters`, metric
`cutover_outbox_set_aside_total`), and the rows after it, of its key too, are published in their
order. Any other failure (the broker unreachable, an authorisation refused, a topic missing, no
acknowledgement within `KAFKA_ACK_DEADLINE_SECONDS`) says nothing about the row: the batch is
retried, never skipped, with a fresh producer (`cutover_kit.publisher`), and
`cutover_outbox_relay_failures_total` counts the attempts for alerting.

The leader also prunes, every ten minutes, each chunk under its lease: published rows after a day
(kept for operators tracing an event), and the dedupe records (`processed_events`,
`idempotency_keys`) after the retention window, which the settings keep no shorter than the topics'
own retention, so a replayed event is always recognised.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from contextlib import suppress

import asyncpg
from sqlalchemy import Table, func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_kit import dead_letters, metrics
from cutover_kit.db import Database, any_of, outbox_channel
from cutover_kit.publisher import Publisher, while_touching
from cutover_kit.tables import idempotency_keys, outbox, processed_events

log = logging.getLogger(__name__)

PUBLISHED_RETENTION_HOURS = 24
PRUNE_EVERY_SECONDS = 600.0
# Rows deleted per statement, so pruning a large backlog never holds one long transaction.
PRUNE_CHUNK = 10_000

HELD = text(
    "SELECT epoch, holder, expires_at < clock_timestamp() AS expired"
    " FROM relay_leases WHERE relay = :relay"
)
# Taken when expired (or already this holder's, after an error of its own), always with the next
# epoch. A leader's batch holds the row locked, so this waits for the batch, then looks again.
TAKE = text(
    "INSERT INTO relay_leases AS lease (relay, epoch, holder, expires_at)"
    " VALUES (:relay, 1, :holder, clock_timestamp() + make_interval(secs => :lease))"
    " ON CONFLICT (relay) DO UPDATE SET epoch = lease.epoch + 1, holder = excluded.holder,"
    " expires_at = excluded.expires_at, taken_at = clock_timestamp()"
    " WHERE lease.expires_at < clock_timestamp() OR lease.holder = excluded.holder"
    " RETURNING lease.epoch"
)
# The fence: only the holder of the current epoch renews. In the same round trip, the transaction
# is told to end if it stays idle for a lease, so a frozen leader's lock goes with it.
RENEW = text(
    "UPDATE relay_leases SET expires_at = clock_timestamp() + make_interval(secs => :lease)"
    " WHERE relay = :relay AND epoch = :epoch"
    " RETURNING set_config('idle_in_transaction_session_timeout', :idle_ms, true)"
)
# A leader that stops ends its lease now rather than let it run out.
RELEASE = text(
    "UPDATE relay_leases SET expires_at = clock_timestamp() WHERE relay = :relay AND epoch = :epoch"
)


class LeaseLost(Exception):
    """This relay no longer holds the lease it led with: another replica took it over."""

    def __init__(self, relay: str, epoch: int | None) -> None:
        super().__init__(
            f"the lease of relay {relay} is no longer at epoch {epoch}"
            if epoch is not None
            else f"this relay does not hold the lease of relay {relay}"
        )
        self.relay = relay
        self.epoch = epoch


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        publisher: Publisher,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        dedupe_retention_hours: float = 336.0,
        lease_seconds: float = 5.0,
    ) -> None:
        self.database = database
        self.publisher = publisher
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.dedupe_retention_hours = dedupe_retention_hours
        self.lease_seconds = lease_seconds
        self.relay = database.service
        # Host and pid name the process for operators (and the cluster test); the suffix tells
        # two relays of one process apart.
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.epoch: int | None = None
        # The epoch this relay led with last, kept after it stepped down until it sees whether
        # another replica took over meanwhile (then it was fenced) or not.
        self._led_epoch: int | None = None
        self._renewed_at = 0.0
        self._wake = asyncio.Event()
        self._pruned_at = 0.0
        database.relay = self

    def wake(self) -> None:
        """Look for unpublished rows now (a commit of this process published some)."""
        self._wake.set()

    @property
    def is_leader(self) -> bool:
        return self.epoch is not None

    @property
    def _renew_every(self) -> float:
        return self.lease_seconds / 3

    async def run(self) -> None:
        """Run until cancelled; survive database and broker outages by starting over."""
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except LeaseLost as lost:
                log.warning("outbox relay stepping down: %s", lost)
            except Exception:
                log.exception("outbox relay interrupted; retrying")
                metrics.outbox_relay_failures.inc()
                await asyncio.sleep(1.0)

    async def _lead(self) -> None:
        while not await self.take_lease():
            await asyncio.sleep(self.poll_seconds)
        try:
            connection = await asyncpg.connect(asyncpg_dsn(self.database.url))
            try:
                await connection.add_listener(
                    outbox_channel(self.database.service), lambda *_: self._wake.set()
                )
                while True:
                    if connection.is_closed():
                        raise ConnectionError("listening connection lost")
                    self._wake.clear()
                    published = await self.publish_batch()
                    if published < self.batch_size:
                        await self._prune_now_and_then()
                        with suppress(TimeoutError):
                            await asyncio.wait_for(
                                self._wake.wait(), min(self.poll_seconds, self._renew_every)
                            )
            finally:
                with suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))
        except asyncio.CancelledError:
            # The process is stopping (SIGTERM drains it): hand the lease over now, so a standby
            # takes over at its next poll rather than after the lease.
            await self._release()
            raise
        finally:
            self._step_down()

    async def take_lease(self) -> bool:
        """Become the leader if the lease has expired (or is still this relay's); say whether."""
        async with self.database.sessionmaker() as session:
            held = (await session.execute(HELD, {"relay": self.relay})).first()
            if held is not None and held.holder != self.holder:
                self._fenced_if_taken_over(held.epoch, held.holder)
                if not held.expired:
                    return False
            epoch = await session.scalar(
                TAKE, {"relay": self.relay, "holder": self.holder, "lease": self.lease_seconds}
            )
            await session.commit()
        if epoch is None:
            return False
        self.epoch = self._led_epoch = epoch
        self._renewed_at = time.monotonic()
        metrics.outbox_relay_leader.set(1)
        log.info(
            "outbox relay is the leader for %s (epoch %d, holder %s, lease %g s; was %s)",
            self.relay,
            epoch,
            self.holder,
            self.lease_seconds,
            f"{held.holder} at epoch {held.epoch}" if held is not None else "nobody",
        )
        return True

    def _fenced_if_taken_over(self, epoch: int, holder: str) -> None:
        """Another replica holds the lease at a newer epoch than the one this relay led with: this
        relay was fenced (it hung, or its batches failed, for longer than the lease)."""
        if self._led_epoch is None or epoch == self._led_epoch:
            return
        log.warning(
            "outbox relay fenced: %s took over %s at epoch %d while this relay (%s) led with"
            " epoch %d; whatever it still held is not marked and was published by the new leader",
            holder,
            self.relay,
            epoch,
            self.holder,
            self._led_epoch,
        )
        metrics.outbox_relay_fenced.inc()
        self._led_epoch = None

    async def _release(self) -> None:
        with suppress(Exception):
            async with asyncio.timeout(2), self.database.sessionmaker() as session:
                await session.execute(RELEASE, {"relay": self.relay, "epoch": self.epoch})
                await session.commit()

    def _step_down(self) -> None:
        self.epoch = None
        metrics.outbox_relay_leader.set(0)

    async def _renew(self, session: AsyncSession) -> None:
        """Renew the lease in the session's transaction, keeping its row locked until the end of
        the transaction; raise `LeaseLost` if another replica took it over."""
        renewed = await session.scalar(
            RENEW,
            {
                "relay": self.relay,
                "epoch": self.epoch,
                "lease": self.lease_seconds,
                "idle_ms": str(int(self.lease_seconds * 1000)),
            },
        )
        if renewed is None:
            lost = LeaseLost(self.relay, self.epoch)
            self._step_down()
            raise lost
        self._renewed_at = time.monotonic()

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows under the lease; return how many. Raise
        `LeaseLost`, having sent nothing, if this relay does not hold the lease."""
        if self.epoch is None:
            raise LeaseLost(self.relay, None)
        async with self.database.sessionmaker() as session:
            rows = (
                await session.execute(
                    select(
                        outbox.c.id, outbox.c.event_id, outbox.c.topic, outbox.c.key, outbox.c.value
                    )
                    .where(outbox.c.published_at.is_(None), outbox.c.set_aside_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                # Nothing is sent, so nothing needs fencing: the lease is only kept alive.
                if time.monotonic() - self._renewed_at >= self._renew_every:
                    await self._renew(session)
                    await session.commit()
                metrics.outbox_backlog.set(0)
                return 0
            # Read first, then locked: the lock is held only from here to the commit.
            await self._renew(session)
            records = ((row.topic, row.key.encode(), row.value) for row in rows)
            refusals = await while_touching(
                self.publisher.send_batch(records),
                lambda: self._renew(session),
                self._renew_every,
            )
            refused = [(row, why) for row, why in zip(rows, refusals, strict=True) if why]
            if refused:
                await dead_letters.record_refused(session, refused)
                for row, reason in refused:
                    metrics.outbox_set_aside.labels(row.topic).inc()
                    log.error("outbox row %d (%s) set aside: %s", row.id, row.topic, reason)
            published = {row.id for row in rows} - {row.id for row, _ in refused}
            await session.execute(
                update(outbox).where(any_of(outbox.c.id, published)).values(published_at=func.now())
            )
            await session.commit()
            backlog = 0
            if len(rows) == self.batch_size:
                backlog = await session.scalar(
                    select(func.count())
                    .select_from(outbox)
                    .where(outbox.c.published_at.is_(None), outbox.c.set_aside_at.is_(None))
                )
        metrics.outbox_published.inc(len(rows))
        metrics.outbox_backlog.set(backlog or 0)
        return len(rows)

    async def _prune_now_and_then(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        await self.prune()

    async def prune(self) -> dict[str, int]:
        """Delete what is past its retention; return how many rows of each table went."""
        return {
            "outbox": await self._prune(outbox, "published_at", PUBLISHED_RETENTION_HOURS),
            "processed_events": await self._prune(
                processed_events, "processed_at", self.dedupe_retention_hours
            ),
            "idempotency_keys": await self._prune(
                idempotency_keys, "created_at", self.dedupe_retention_hours
            ),
        }

    async def _prune(self, table: Table, column: str, hours: float) -> int:
        # Table and column are this module's constants; the window is a bound parameter.
        statement = text(
            f"DELETE FROM {table.name} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {table.name} WHERE {column} < now() - :hours * interval '1 hour' "
            "LIMIT :chunk))"
        )
        pruned = 0
        while True:
            async with self.database.sessionmaker() as session:
                # Only the leader prunes, and a long prune keeps its lease alive chunk by chunk.
                if self.epoch is None:
                    raise LeaseLost(self.relay, None)
                await self._renew(session)
                result = await session.execute(statement, {"hours": hours, "chunk": PRUNE_CHUNK})
                await session.commit()
            pruned += result.rowcount
            if result.rowcount < PRUNE_CHUNK:
                return pruned
