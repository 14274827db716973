"""Fake units of work and in-memory repositories: the use cases run on them in milliseconds, with
no PostgreSQL and no Kafka. Each fake implements just what the tested use cases call."""
