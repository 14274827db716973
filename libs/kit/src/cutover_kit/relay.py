"""The outbox relay: publishes committed outbox rows to Kafka, in order, and marks them published.

One relay per service publishes at a time: the leader holds a PostgreSQL advisory lock on a
dedicated connection, so replicas never publish the same row twice in normal operation, and when the
leader dies its connection (and lock) goes with it and another replica takes over. A row is marked
published only after Kafka acknowledged it (idempotent producer, acks=all); a leader killed between
the two leaves the row to be published again, and consumers dedupe on the CloudEvent id. Rows are
read in id order and sent with an idempotent producer, which keeps order per partition, so events of
one account (one key, one partition) arrive in the order they were committed.

A relay never blocks on one row: a row Kafka refuses as a record (too large, invalid) is set aside
and kept as a dead letter of the relay's (`GET /dead-letters`, metric
`cutover_outbox_set_aside_total`), and the rows after it, of its key too, are published in their
order. Any other failure (the broker unreachable, an authorisation refused, a topic missing) says
nothing about the row: the batch is retried, never skipped, and `cutover_outbox_relay_failures_total`
counts the attempts for alerting.

The leader also prunes, every ten minutes: published rows after a day (kept for operators tracing
an event), and the dedupe records (`processed_events`, `idempotency_keys`) after the retention
window, which the settings keep no shorter than the topics' own retention, so a replayed event is
always recognised.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from contextlib import suppress

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import Table, func, select, text, update

from cutover_kit import dead_letters, metrics
from cutover_kit.db import Database, outbox_channel
from cutover_kit.publisher import send_batch
from cutover_kit.tables import idempotency_keys, outbox, processed_events

log = logging.getLogger(__name__)

PUBLISHED_RETENTION_HOURS = 24
PRUNE_EVERY_SECONDS = 600.0
# Rows deleted per statement, so pruning a large backlog never holds one long transaction.
PRUNE_CHUNK = 10_000


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class OutboxRelay:
    def __init__(
        self,
        database: Database,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_seconds: float = 1.0,
        dedupe_retention_hours: float = 336.0,
    ) -> None:
        self.database = database
        self.producer = producer
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.dedupe_retention_hours = dedupe_retention_hours
        self._lock_key = zlib.crc32(f"cutover-relay:{database.service}".encode())
        self._wake = asyncio.Event()
        self._pruned_at = 0.0
        self.is_leader = False
        database.relay = self

    def wake(self) -> None:
        """Look for unpublished rows now (a commit of this process published some)."""
        self._wake.set()

    async def run(self) -> None:
        """Run until cancelled; survive database and broker outages by starting over."""
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay interrupted; retrying")
                metrics.outbox_relay_failures.inc()
                self.is_leader = False
                await asyncio.sleep(1.0)

    async def _lead(self) -> None:
        connection = await asyncpg.connect(asyncpg_dsn(self.database.url))
        try:
            while not await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._lock_key):
                await asyncio.sleep(self.poll_seconds)
            self.is_leader = True
            await connection.add_listener(
                outbox_channel(self.database.service), lambda *_: self._wake.set()
            )
            log.info("outbox relay is the leader for %s", self.database.service)
            while True:
                if connection.is_closed():
                    raise ConnectionError("leadership connection lost")
                self._wake.clear()
                published = await self.publish_batch()
                if published < self.batch_size:
                    await self._prune_now_and_then()
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        finally:
            self.is_leader = False
            with suppress(Exception):
                await asyncio.shield(connection.close(timeout=2))

    async def publish_batch(self) -> int:
        """Publish the oldest unpublished rows; return how many."""
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
                metrics.outbox_backlog.set(0)
                return 0
            refusals = await send_batch(
                self.producer, ((row.topic, row.key.encode(), row.value) for row in rows)
            )
            refused = [(row, why) for row, why in zip(rows, refusals, strict=True) if why]
            if refused:
                await dead_letters.record_refused(session, refused)
                for row, reason in refused:
                    metrics.outbox_set_aside.labels(row.topic).inc()
                    log.error("outbox row %d (%s) set aside: %s", row.id, row.topic, reason)
            published = {row.id for row in rows} - {row.id for row, _ in refused}
            await session.execute(
                update(outbox).where(outbox.c.id.in_(published)).values(published_at=func.now())
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
                result = await session.execute(statement, {"hours": hours, "chunk": PRUNE_CHUNK})
                await session.commit()
            pruned += result.rowcount
            if result.rowcount < PRUNE_CHUNK:
                return pruned
