"""A service's runtime started and stopped in this process, against real Kafka and PostgreSQL."""

from __future__ import annotations

import gc

import pytest

from cutover_billing import bootstrap
from cutover_kit.db import Database
from cutover_kit.settings import Settings
from tests.support.infra import Infra

pytestmark = pytest.mark.infra


async def test_a_started_runtime_keeps_its_heap_out_of_collections_and_a_stopped_one_thaws_it(
    infra: Infra, billing_database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given billing's runtime, on its own database and as its own Kafka principal
    for name, value in {
        **infra.service_env(),
        **infra.kafka_env("billing"),
        "BILLING_DATABASE_URL": billing_database.url,
    }.items():
        monkeypatch.setenv(name, value)
    runtime = bootstrap.create_app(Settings(service="billing")).state.runtime
    assert gc.get_freeze_count() == 0

    # When it starts, everything it holds then is frozen: full collections no longer walk it
    await runtime.start()
    try:
        assert gc.get_freeze_count() > 0
    finally:
        # And when it stops, that heap is collectable again (a process may start another)
        await runtime.stop()
    assert gc.get_freeze_count() == 0
