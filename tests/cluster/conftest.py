"""The cluster stack for the tier's modules, each starting its own from a clean state
(tests/cluster/stack.py says how)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.stack import STATE, Cluster, started

__all__ = ["STATE", "Cluster"]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with started() as running:
        yield running


@pytest.fixture(scope="module")
def partitionable_cluster() -> Iterator[Cluster]:
    """The same, each Kafka node in its own network namespace: `Cluster.kafka("cut-node", N)`."""
    with started(network_namespaces=True) as running:
        yield running
