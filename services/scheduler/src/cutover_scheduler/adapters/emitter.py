"""The emitter: publishes due scheduled events to Kafka, never before their `run_at`.

Due means `run_at <= now()` by the database clock. Each batch is one transaction on the emitter's
own connection: claim up to `batch_size` due events (`FOR UPDATE SKIP LOCKED`, so replicas take
disjoint batches), send them all with the idempotent producer, wait for Kafka's acknowledgements,
mark them emitted, commit. The row locks are the claim: a cancel or change of a claimed event waits
for the batch and then finds it emitted.

A live emitter keeps its claim however long Kafka takes to acknowledge, up to the publisher's
deadline (`KAFKA_ACK_DEADLINE_SECONDS`; then the batch rolls back and is claimed again, sent by a
fresh producer: `cutover_kit.publisher`): while it waits it touches its connection every third of
the lease, so PostgreSQL never sees it idle; a batch acknowledged within that third costs no extra round trip. Only a replica
that dies or freezes loses its claim: one that dies loses its connection, so its locks go at once;
one that freezes (stopped, suspended) is cut off by PostgreSQL after the lease
(`idle_in_transaction_session_timeout`). Either way another replica emits the batch. The CloudEvent
id is the scheduled event's id, so a re-emission is recognisable and consumers dedupe it. A batch
whose transaction is lost is never marked: the mark runs in the claim's transaction, which goes with
the connection, and it marks all of the claimed events, still pending, or none. An event Kafka
refuses as a record (larger than the broker takes) is marked `failed` with the reason instead, and
the rest of its batch is emitted: one event never blocks the others (`cutover_kit.publisher`).

What remains, by design of an at-least-once sender: the broker may have written events whose batch
still failed (the producer timed out waiting for Kafka; the batch rolls back), and a replica frozen
past the lease may deliver its batch when it thaws, though its mark then fails. Such an event reads
`pending` meanwhile: it is emitted again (and deduped), or, if an operator cancels it first, it reads
`cancelled` although accounts carries it out.

Between batches the emitter sleeps until the earliest pending `run_at` (at most `max_sleep`), and is
woken at once by a NOTIFY when an event is created or moved; events that came due while a batch
was out are claimed at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from datetime import datetime

import asyncpg
from prometheus_client import Counter, Gauge
from pydantic_core import from_json, to_json

from cutover_contracts.topics import SCHEDULED_EVENT_DUE
from cutover_kit.metrics import BatchHistogram
from cutover_kit.publisher import Publisher, while_touching

log = logging.getLogger(__name__)

WAKEUP_CHANNEL = "scheduler_wakeup"

emitted_total = Counter("cutover_scheduler_emitted_total", "Scheduled events emitted to Kafka")
# Observed a batch at a time: `Histogram.observe` took 8.2-8.7 ms for a batch of 5,000.
lateness = BatchHistogram(
    "cutover_scheduler_lateness_seconds",
    "Emission time minus run_at, by the database clock",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
last_lateness = Gauge(
    "cutover_scheduler_last_lateness_seconds", "Lateness of the latest event emitted"
)
due_backlog = Gauge("cutover_scheduler_due_backlog", "Pending events whose run_at has passed")

# An event's emission time is its batch's: the transaction's `now()`, which the claim compares
# `run_at` with, so it is never before `run_at`, and which the mark writes again without taking a
# value per event. The mark finds each claimed row by its `ctid`, which the claim's row locks keep
# in place until the batch commits, and which nothing else can have changed meanwhile: a scan of
# TIDs, where the ids' join had PostgreSQL read every pending event (5,000 rows of 100,000 pending
# marked in 37-38 ms against 59-77; `bench/results/emitter-mark-ab/`).
CLAIM = """
SELECT ctid, id, event_type, account_id, run_at, payload, correlation_id, scheduled_by,
       now() AS emitted_at
FROM scheduled_events
WHERE state = 'pending' AND run_at <= now()
ORDER BY run_at
LIMIT $1
FOR UPDATE SKIP LOCKED
"""
MARK = """
UPDATE scheduled_events SET state = 'emitted', emitted_at = now(), updated_at = now()
WHERE ctid = ANY($1::tid[])
"""
# An event Kafka refuses as a record (too large for the broker) fails instead of blocking the rest.
REFUSED = """
UPDATE scheduled_events SET state = 'failed', outcome = $2, updated_at = now()
WHERE id = $1 AND state = 'pending'
"""
# Run while Kafka has not answered, so that the batch's transaction is not idle.
KEEP_CLAIM = "SELECT 1"
NEXT = """
SELECT EXTRACT(EPOCH FROM min(run_at) - clock_timestamp())::float8 AS delay,
       count(*) FILTER (WHERE run_at <= now()) AS due
FROM scheduled_events WHERE state = 'pending'
"""
# When every due row is claimed by another replica (a claim found none), look again this soon.
BUSY_PAUSE_SECONDS = 0.005
# How stale `due_backlog` may grow while every batch finds events.
BACKLOG_READ_SECONDS = 1.0


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def due_event(row: asyncpg.Record, emitted_at: str) -> bytes:
    """The CloudEvent, written directly: this is the scheduler's hot path (no model per event).
    pydantic-core's encoder writes it in half the standard library's time (4.7-5.6 against
    9.7-9.8 µs an event), the same bytes for ASCII text (non-ASCII is written as UTF-8, not
    escaped). `emitted_at` is the batch's, written once for all its events."""
    event_id = str(row["id"])
    return to_json(
        {
            "specversion": "1.0",
            "id": event_id,
            "source": "/cutover/scheduler",
            "type": SCHEDULED_EVENT_DUE.event_type,
            "subject": str(row["account_id"]),
            "time": emitted_at,
            "datacontenttype": "application/json",
            **({"correlationid": row["correlation_id"]} if row["correlation_id"] else {}),
            "data": {
                "scheduled_event_id": event_id,
                "event_type": row["event_type"],
                "account_id": row["account_id"],
                "run_at": _iso(row["run_at"]),
                "emitted_at": emitted_at,
                "payload": from_json(row["payload"]),
                "actor": row["scheduled_by"],
            },
        }
    )


class Emitter:
    def __init__(
        self,
        dsn: str,
        publisher: Publisher,
        *,
        batch_size: int = 5000,
        lease_seconds: float = 10.0,
        max_sleep: float = 1.0,
        topic: str = SCHEDULED_EVENT_DUE.name,
    ) -> None:
        self.dsn = dsn
        self.topic = topic
        self.publisher = publisher
        self.batch_size = batch_size
        self.lease_ms = int(lease_seconds * 1000)
        self.keep_claim_every = lease_seconds / 3
        self.max_sleep = max_sleep
        self._wake = asyncio.Event()

    async def run(self) -> None:
        """Run until cancelled; start over after a database or broker failure."""
        while True:
            try:
                await self._serve()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("emitter interrupted; starting over")
                await asyncio.sleep(1.0)

    async def connect(self) -> asyncpg.Connection:
        """The emitter's own connection, with the lease: PostgreSQL cuts it when a transaction on
        it idles that long. Only a batch opens a transaction on it, so the lease is the session's
        setting, not one more statement in every batch."""
        return await asyncpg.connect(
            self.dsn, server_settings={"idle_in_transaction_session_timeout": str(self.lease_ms)}
        )

    async def _serve(self) -> None:
        connection = await self.connect()
        loop = asyncio.get_running_loop()
        look_by = 0.0
        try:
            await connection.add_listener(WAKEUP_CHANNEL, lambda *_: self._wake.set())
            while True:
                self._wake.clear()
                claimed = await self.emit_batch(connection)
                if claimed and loop.time() < look_by:
                    # Whatever came due while this batch was out is claimed at once; while
                    # batches keep finding events, the backlog is read at most once a second.
                    continue
                delay, due = await connection.fetchrow(NEXT)
                due_backlog.set(due)
                look_by = loop.time() + BACKLOG_READ_SECONDS
                if delay is None or delay > 0:
                    timeout = self.max_sleep if delay is None else min(delay, self.max_sleep)
                    with suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
                elif not claimed:
                    await asyncio.sleep(BUSY_PAUSE_SECONDS)
        finally:
            with suppress(Exception):
                await asyncio.shield(connection.close(timeout=2))

    async def emit_batch(self, connection: asyncpg.Connection) -> int:
        """Claim, publish and mark one batch of due events on a connection of `connect()`; return
        how many were claimed."""
        async with connection.transaction():
            rows = await connection.fetch(CLAIM, self.batch_size)
            if not rows:
                return 0
            emitted_at = rows[0]["emitted_at"]  # the batch's, the same in every row (`CLAIM`)
            refusals = await while_touching(
                self._publish(rows, _iso(emitted_at)),
                lambda: connection.execute(KEEP_CLAIM),
                self.keep_claim_every,
            )
            for row, why in zip(rows, refusals, strict=True):
                if why:
                    log.error("scheduled event %s refused by Kafka: %s", row["id"], why)
                    await connection.execute(REFUSED, row["id"], f"refused by Kafka: {why}")
            emitted = [row for row, why in zip(rows, refusals, strict=True) if not why]
            marked = await connection.execute(MARK, [row["ctid"] for row in emitted])
            if marked != f"UPDATE {len(emitted)}":  # never, while the claim holds: mark none
                raise RuntimeError(f"{marked} of {len(emitted)} claimed events; marking none")
        emitted_total.inc(len(emitted))
        if emitted:
            late = [(emitted_at - row["run_at"]).total_seconds() for row in emitted]
            lateness.observe_all(late)
            last_lateness.set(late[-1])
        return len(rows)

    async def _publish(self, rows: list[asyncpg.Record], emitted_at: str) -> list[str | None]:
        """Send the batch and wait for every acknowledgement; why Kafka refused each, if it did."""
        return await self.publisher.send_batch(
            (
                (self.topic, str(row["account_id"]).encode(), due_event(row, emitted_at))
                for row in rows
            ),
        )
