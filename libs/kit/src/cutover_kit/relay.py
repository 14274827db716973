"""The outbox relay: publishes committed outbox rows to Kafka, in order, and marks them published.

One relay per service publishes at a time: the leader holds a PostgreSQL advisory lock on a
dedicated connection, so replicas never publish the same row twice in normal operation, and when the
leader dies its connection (and lock) goes with it and another replica takes over. A row is marked
published only after Kafka acknowledged it (idempotent producer, acks=all); a leader killed between
the two leaves the row to be published again, and consumers dedupe on the CloudEvent id. Rows are
read in id order and sent with an idempotent producer, which keeps order per partition, so events of
one account (one key, one partition) arrive in the order they were committed. Published rows are
kept for a day (for operators tracing an event), then pruned by the leader.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from contextlib import suppress

import asyncpg
from aiokafka import AIOKafkaProducer
from sqlalchemy import delete, func, select, text, update

from cutover_kit import metrics
from cutover_kit.db import Database, outbox_channel
from cutover_kit.tables import outbox

log = logging.getLogger(__name__)

PUBLISHED_RETENTION = "24 hours"
PRUNE_EVERY_SECONDS = 600.0


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
    ) -> None:
        self.database = database
        self.producer = producer
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self._lock_key = zlib.crc32(f"cutover-relay:{database.service}".encode())
        self._wake = asyncio.Event()
        self._pruned_at = 0.0
        self.is_leader = False

    async def run(self) -> None:
        """Run until cancelled; survive database and broker outages by starting over."""
        while True:
            try:
                await self._lead()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox relay interrupted; retrying")
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
                    select(outbox.c.id, outbox.c.topic, outbox.c.key, outbox.c.value)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                metrics.outbox_backlog.set(0)
                return 0
            deliveries = [
                await self.producer.send(
                    row.topic,
                    value=row.value,
                    key=row.key.encode(),
                    headers=[("content-type", b"application/cloudevents+json")],
                )
                for row in rows
            ]
            await asyncio.gather(*deliveries)
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(published_at=func.now())
            )
            await session.commit()
            backlog = 0
            if len(rows) == self.batch_size:
                backlog = await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )
        metrics.outbox_published.inc(len(rows))
        metrics.outbox_backlog.set(backlog or 0)
        return len(rows)

    async def _prune_now_and_then(self) -> None:
        now = asyncio.get_running_loop().time()
        if now - self._pruned_at < PRUNE_EVERY_SECONDS:
            return
        self._pruned_at = now
        async with self.database.sessionmaker() as session:
            await session.execute(
                delete(outbox).where(
                    outbox.c.published_at < func.now() - text(f"interval '{PUBLISHED_RETENTION}'")
                )
            )
            await session.commit()
