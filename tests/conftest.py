"""Session fixtures: real Kafka and PostgreSQL once per session, the four services once for the
end-to-end tests. Unit tests use neither and start nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.infra import Infra, test_infrastructure
from tests.support.system import System


@pytest.fixture(scope="session")
def infra() -> Iterator[Infra]:
    with test_infrastructure() as started:
        yield started


@pytest.fixture(scope="session")
def system(infra: Infra) -> Iterator[System]:
    running = System(infra)
    try:
        running.start()
        yield running
    finally:
        running.stop()
