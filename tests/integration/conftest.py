from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_addresses.service_layer.unit_of_work import AddressesUnitOfWork
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_contracts.topics import Topic
from cutover_kit.db import Database, UnitOfWork
from cutover_kit.migrations import upgrade
from cutover_scheduler.service_layer.unit_of_work import SchedulerUnitOfWork
from tests.support.infra import Infra, fresh_database, fresh_kit_database, migrations_of

pytestmark = pytest.mark.infra

# Each service's unit of work, as its composition root hands it to the runtime.
UNITS_OF_WORK: dict[str, type[UnitOfWork]] = {
    "accounts": AccountsUnitOfWork,
    "billing": BillingUnitOfWork,
    "addresses": AddressesUnitOfWork,
    "scheduler": SchedulerUnitOfWork,
}


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
    database = Database(url, service=service, unit_of_work=UNITS_OF_WORK[service])
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
