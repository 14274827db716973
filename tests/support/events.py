"""Reading Cutover's events from the real broker in tests, and waiting for conditions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer

from cutover_contracts.envelope import CloudEvent, decode_event
from tests.support.infra import Infra

T = TypeVar("T")


class EventTap:
    """Everything published on some topics from now on (a fresh consumer group at the end), as
    `principal` (`observer` reads the public topics as other teams do, in `observer.` groups)."""

    def __init__(self, infra: Infra, *topics: str, principal: str = "admin") -> None:
        group = "observer.test-tap" if principal == "observer" else "test-tap"
        self.consumer = AIOKafkaConsumer(
            *topics,
            **infra.kafka_options(principal),
            group_id=f"{group}-{uuid.uuid4()}",
            auto_offset_reset="latest",
            enable_auto_commit=False,
        )
        self.seen: list[CloudEvent] = []
        self.raw: dict[uuid.UUID, tuple[str, bytes]] = {}  # event id → (topic, bytes as sent)

    async def __aenter__(self) -> EventTap:
        await self.consumer.start()
        # Assignment happens on the first fetch; wait for it so no event is missed after entry.
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=100)
        for partition in self.consumer.assignment():
            await self.consumer.seek_to_end(partition)
        for partition in self.consumer.assignment():
            await self.consumer.position(partition)
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.consumer.stop()

    async def drain(self, within: float) -> None:
        """Read whatever else arrives in `within` seconds (to catch a late duplicate)."""
        self._keep(await self.consumer.getmany(timeout_ms=int(within * 1000)))

    def _keep(self, batches: dict[Any, list[Any]]) -> None:
        for records in batches.values():
            for record in records:
                event = decode_event(record.value)
                self.seen.append(event)
                self.raw[event.id] = (record.topic, record.value)

    async def wait_for(
        self, predicate: Callable[[CloudEvent], bool], within: float = 10.0
    ) -> CloudEvent:
        deadline = time.monotonic() + within
        while True:
            for event in self.seen:
                if predicate(event):
                    return event
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event in {within} s; saw {len(self.seen)}")
            batches = await self.consumer.getmany(timeout_ms=int(min(remaining, 0.5) * 1000))
            self._keep(batches)


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], within: float = 10.0, interval: float = 0.05
) -> T:
    """Poll `probe` until it returns something truthy; fail after `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {within} s (last value: {value!r})")
        await asyncio.sleep(interval)
