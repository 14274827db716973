"""Schemas come from Alembic migrations: they match the tables the code declares, and they go down
and up again cleanly."""

from __future__ import annotations

import asyncio
import importlib
import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from cutover_contracts.topics import SERVICES
from cutover_kit.migrations import alembic_config
from cutover_kit.tables import metadata as kit_metadata
from tests.support.infra import Infra, fresh_database, migrations_of

pytestmark = pytest.mark.infra


@pytest.mark.parametrize("service", SERVICES)
async def test_the_migrated_schema_is_the_declared_schema(infra: Infra, service: str) -> None:
    tables = importlib.import_module(f"cutover_{service}.adapters.tables")
    engine = create_async_engine(infra.database_url(service))
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync), [kit_metadata, tables.metadata]
                )
            )
    finally:
        await engine.dispose()
    assert differences == [], "the tables differ from the migrations: write a migration"


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_go_down_and_up_again(infra: Infra, service: str) -> None:
    url = await fresh_database(infra, f"updown_{service}_{uuid.uuid4().hex[:6]}")
    config = alembic_config(migrations_of(service), url)
    for revision in ("head", "base", "head"):
        step = command.upgrade if revision == "head" else command.downgrade
        await asyncio.to_thread(step, config, revision)
