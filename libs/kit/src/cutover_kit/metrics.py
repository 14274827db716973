"""Prometheus metrics every service exposes on /metrics (the default registry, one per process)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

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
