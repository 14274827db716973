"""Prometheus metrics every service exposes on /metrics (the default registry, one per process)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterator

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.utils import floatToGoString

http_requests = Counter(
    "cutover_http_requests_total", "HTTP requests answered", ["method", "route", "status"]
)
http_latency = Histogram(
    "cutover_http_request_seconds", "HTTP request duration", ["method", "route"]
)
events_consumed = Counter(
    "cutover_events_consumed_total", "Events consumed, by outcome", ["topic", "outcome"]
)
dead_letters = Counter(
    "cutover_dead_letters_total", "Messages sent to the dead-letter topic", ["topic"]
)
consumer_lag = Gauge(
    "cutover_consumer_lag",
    "Records behind the partition's end, summed over the partitions a consumer group member holds, as of its latest batch",
    ["group", "topic"],
)
outbox_published = Counter("cutover_outbox_published_total", "Outbox events published to Kafka")
outbox_backlog = Gauge("cutover_outbox_backlog", "Outbox events committed but not yet published")
outbox_set_aside = Counter(
    "cutover_outbox_set_aside_total",
    "Outbox events Kafka refused as records (too large, invalid), set aside as dead letters",
    ["topic"],
)
outbox_relay_failures = Counter(
    "cutover_outbox_relay_failures_total",
    "Relay batches that failed for a reason other than the record (broker, authorisation, topic)"
    " and are retried: alert when it keeps rising",
)
kafka_producer_replaced = Counter(
    "cutover_kafka_producer_replaced_total",
    "Times the relay's and emitter's Kafka producer was replaced after a batch failed or was not"
    " acknowledged within KAFKA_ACK_DEADLINE_SECONDS: alert when it keeps rising",
)
outbox_relay_leader = Gauge(
    "cutover_outbox_relay_leader",
    "1 while this process's outbox relay holds the lease and publishes, 0 while it stands by",
)
outbox_relay_fenced = Counter(
    "cutover_outbox_relay_fenced_total",
    "Times this process's relay found that another replica had taken over its lease (it hung or"
    " failed for longer than the lease): it published nothing more under the old epoch",
)
topic_drift = Gauge(
    "cutover_topic_drift",
    "Settings of a topic this service uses that differ from the declared ones (checked at start;"
    " `existence` 1 when the topic is missing): alert on any non-zero value",
    ["topic", "setting"],
)
draining = Gauge(
    "cutover_draining",
    "1 once the process got SIGTERM and is draining (readiness fails, requests still served)",
)


class BatchHistogram:
    """A Prometheus histogram observed a batch of values at a time, for a loop that measures
    thousands of values a batch (the scheduler's emitter): `Histogram.observe` takes about 1.7 µs a
    value, where a batch's values, sorted, are counted into the buckets by bisection. Registered
    like a `Histogram`, and exposed the same but for its `_created` series. Observed and collected
    on the event loop (`/metrics` is an async route), so never both at once."""

    def __init__(
        self,
        name: str,
        documentation: str,
        buckets: tuple[float, ...],
        registry: CollectorRegistry = REGISTRY,
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = (*buckets, math.inf)
        self.cumulative = [0] * len(self.bounds)
        self.sum = 0.0
        registry.register(self)

    def observe_all(self, values: list[float]) -> None:
        values = sorted(values)
        for i, bound in enumerate(self.bounds):
            self.cumulative[i] += bisect_right(values, bound)
        self.sum += sum(values)

    def collect(self) -> Iterator[HistogramMetricFamily]:
        yield HistogramMetricFamily(
            self.name,
            self.documentation,
            buckets=[
                (floatToGoString(bound), count)
                for bound, count in zip(self.bounds, self.cumulative, strict=True)
            ],
            sum_value=self.sum,
        )
