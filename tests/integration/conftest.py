from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cutover_contracts.topics import Topic
from cutover_kit.db import Database
from cutover_kit.migrations import upgrade
from tests.support.infra import Infra, fresh_database, fresh_kit_database, migrations_of

pytestmark = pytest.mark.infra


@pytest.fixture
async def kit_database(infra: Infra) -> AsyncIterator[Database]:
    name = f"kit_{uuid.uuid4().hex[:8]}"
    url = await fresh_kit_database(infra, name)
    database = Database(url, service=name)
    yield database
    await database.dispose()


async def service_database(infra: Infra, service: str) -> AsyncIterator[Database]:
    """A service's database of its own (migrated like production), with no service running on it."""
    url = await fresh_database(infra, f"{service}_{uuid.uuid4().hex[:8]}")
    await asyncio.to_thread(upgrade, migrations_of(service), url)
    database = Database(url, service=service)
    yield database
    await database.dispose()


@pytest.fixture
async def accounts_database(infra: Infra) -> AsyncIterator[Database]:
    async for database in service_database(infra, "accounts"):
        yield database


@pytest.fixture
async def billing_database(infra: Infra) -> AsyncIterator[Database]:
    async for database in service_database(infra, "billing"):
        yield database


@pytest.fixture
async def addresses_database(infra: Infra) -> AsyncIterator[Database]:
    async for database in service_database(infra, "addresses"):
        yield database


@pytest.fixture
async def scheduler_database(infra: Infra) -> AsyncIterator[Database]:
    async for database in service_database(infra, "scheduler"):
        yield database


async def create_topic(infra: Infra, topic: Topic, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(**infra.kafka_options())
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic.name, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
