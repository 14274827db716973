"""The part of the kit's unit of work that every service's use cases use, in memory."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.topics import Topic


class FakeUnitOfWork:
    """Records what a use case publishes and whether it committed. The outer block of a re-entered
    unit of work commits, as in the kit."""

    def __init__(self) -> None:
        self.commits = 0
        self.published: list[tuple[Topic, BaseModel]] = []
        self.notified: set[str] = set()
        self._depth = 0

    async def __aenter__(self) -> FakeUnitOfWork:
        self._depth += 1
        return self

    async def __aexit__(self, *_: Any) -> None:
        self._depth -= 1

    async def commit(self) -> None:
        if self._depth <= 1:
            self.commits += 1

    def notify_on_commit(self, channel: str) -> None:
        self.notified.add(channel)

    @asynccontextmanager
    async def savepoint(self) -> Any:
        yield

    async def publish(self, topic: Topic, data: BaseModel, **_: Any) -> None:
        self.published.append((topic, data))

    async def answer(self, _request: CloudEvent, topic: Topic, data: BaseModel, **_: Any) -> None:
        self.published.append((topic, data))

    def events(self, topic: Topic) -> list[Any]:
        return [data for published, data in self.published if published == topic]
