"""Session fixtures: real Kafka and PostgreSQL once per session, the four services once for the
end-to-end tests. Unit tests use neither and start nothing. Tests marked `cluster` start a Kafka
cluster and service replicas of their own (tests/cluster): they run only with `make test-cluster`
(CUTOVER_TEST_CLUSTER=1), never in `make test`."""

from __future__ import annotations

import os
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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("CUTOVER_TEST_CLUSTER") == "1":
        return
    skip = pytest.mark.skip(reason="the cluster test runs with make test-cluster")
    for item in items:
        if item.get_closest_marker("cluster"):
            item.add_marker(skip)
