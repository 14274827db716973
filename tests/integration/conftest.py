from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cutover_contracts.topics import Topic
from cutover_kit.db import Database
from tests.support.infra import Infra, fresh_kit_database

pytestmark = pytest.mark.infra


@pytest.fixture
async def kit_database(infra: Infra) -> AsyncIterator[Database]:
    name = f"kit_{uuid.uuid4().hex[:8]}"
    url = await fresh_kit_database(infra, name)
    database = Database(url, service=name)
    yield database
    await database.dispose()


async def create_topic(infra: Infra, topic: Topic, partitions: int = 3) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic.name, num_partitions=partitions, replication_factor=1)]
        )
    finally:
        await admin.close()
