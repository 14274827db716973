"""A histogram observed a batch at a time (the emitter's lateness) exposes what a Prometheus
`Histogram` observing each value would (its `_created` series aside)."""

from __future__ import annotations

import random

import pytest
from prometheus_client import CollectorRegistry, Histogram, generate_latest

from cutover_kit.metrics import BatchHistogram

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


def exposed(registry: CollectorRegistry) -> dict[str, float]:
    """Each exposed sample (HELP and TYPE included) and its value, but `_created`."""
    samples = {}
    for line in generate_latest(registry).decode().splitlines():
        name, _, value = line.rpartition(" ")
        if "_created" not in name:
            samples[name] = value if line.startswith("#") else float(value)
    return samples


def test_batches_are_exposed_as_a_histogram_observing_each_value_would_be() -> None:
    each, batched = CollectorRegistry(), CollectorRegistry()
    histogram = Histogram("lateness_seconds", "Lateness", buckets=BUCKETS, registry=each)
    batch_histogram = BatchHistogram("lateness_seconds", "Lateness", BUCKETS, registry=batched)
    rng = random.Random(19)
    # Values on the bounds, beyond the last, none at all, and batches in any order
    batches = [[0.001, 0.0025, 30.0, 31.0], [], [rng.uniform(0, 40) for _ in range(5_000)]]
    batches.append(sorted(batches[-1], reverse=True))
    for batch in batches:
        for value in batch:
            histogram.observe(value)
        batch_histogram.observe_all(batch)
        want, got = exposed(each), exposed(batched)
        # The sum is added in another order: equal up to the float's rounding
        assert got.pop("lateness_seconds_sum") == pytest.approx(want.pop("lateness_seconds_sum"))
        assert got == want
