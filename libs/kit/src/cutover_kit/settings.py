"""Configuration from the environment, the same variables in `make up`, docker-compose and production.

Production is configuration only: point `KAFKA_*` at a cluster (TLS and SASL pass through) and
`POSTGRES_*` or `<SERVICE>_DATABASE_URL` at a server.
"""

from __future__ import annotations

import os
import ssl
from typing import Any, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"accounts": 8001, "billing": 8002, "addresses": 8003, "scheduler": 8004}


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication_factor: int = Field(default=1, ge=1)
    # Unset: 2 from 3 copies up (one broker may die without stopping acks=all writes), else 1.
    topic_min_insync_replicas: int | None = Field(default=None, ge=1)
    # Set on every topic Cutover creates; consumers keep their dedupe records at least this long.
    topic_retention_hours: float = Field(default=168.0, gt=0)
    # How long the relay's and emitter's batch waits for Kafka's acknowledgements before its
    # producer is replaced (`cutover_kit.publisher`): longer than a leader election takes, so a
    # cluster that fails over is waited for, not given up on.
    ack_deadline_seconds: float = Field(default=30.0, gt=0)

    @property
    def min_insync_replicas(self) -> int:
        if self.topic_min_insync_replicas is not None:
            return self.topic_min_insync_replicas
        return 2 if self.topic_replication_factor >= 3 else 1

    def client_options(self) -> dict[str, Any]:
        """Connection options for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.security_protocol in ("SSL", "SASL_SSL"):
            context = ssl.create_default_context(cafile=self.ssl_cafile)
            if self.ssl_certfile:
                context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
            options["ssl_context"] = context
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options


class Settings(BaseSettings):
    """One service's settings. Shared variables are unprefixed; per-service ones carry its name."""

    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    service: str
    http_host: str = Field(default="127.0.0.1", alias="CUTOVER_HTTP_HOST")
    http_port: int = 0
    # <SERVICE>_WORKERS: processes serving one service on its port, each a whole replica (HTTP,
    # consumers in the group, a relay candidate): for a service that needs more than one core.
    workers: int = 0
    database_url: str = ""
    postgres_host: str = Field(default="127.0.0.1", alias="POSTGRES_HOST")
    postgres_port: int = Field(default=5432, alias="POSTGRES_PORT")
    postgres_user: str = Field(default="postgres", alias="POSTGRES_USER")
    postgres_password: SecretStr = Field(default=SecretStr(""), alias="POSTGRES_PASSWORD")
    database_pool_size: int = Field(default=20, ge=1, alias="CUTOVER_DB_POOL_SIZE")
    api_token: SecretStr | None = Field(
        default=None,
        alias="CUTOVER_API_TOKEN",
        description="Break-glass: a static token with every scope (actor `operator`); off when unset",
    )
    jwks_file: str | None = Field(default=None, alias="CUTOVER_JWKS_FILE")
    jwks_url: str | None = Field(default=None, alias="CUTOVER_JWKS_URL")
    token_issuer: str | None = Field(default=None, alias="CUTOVER_TOKEN_ISSUER")
    service_token_file: str | None = Field(default=None, alias="CUTOVER_SERVICE_TOKEN_FILE")
    oauth_token_url: str | None = Field(default=None, alias="CUTOVER_OAUTH_TOKEN_URL")
    oauth_client_id: str | None = Field(default=None, alias="CUTOVER_OAUTH_CLIENT_ID")
    oauth_client_secret: SecretStr | None = Field(default=None, alias="CUTOVER_OAUTH_CLIENT_SECRET")
    log_level: str = Field(default="INFO", alias="CUTOVER_LOG_LEVEL")
    drain_seconds: float = Field(
        default=0.0,
        ge=0,
        alias="CUTOVER_DRAIN_SECONDS",
        description=(
            "After SIGTERM, how long the process stays up answering 503 on /readyz before it stops"
            " (longer than the proxy's health-check interval × fall count); 0 stops at once"
        ),
    )
    consumer_max_attempts: int = Field(default=3, ge=1, alias="CUTOVER_CONSUMER_MAX_ATTEMPTS")
    # How often a consumer group commits its Kafka offsets (`cutover_kit.consumer.OffsetCommits`).
    consumer_commit_interval_seconds: float = Field(
        default=1.0, gt=0, le=60, alias="CUTOVER_CONSUMER_COMMIT_INTERVAL_SECONDS"
    )
    relay_batch_size: int = Field(default=500, ge=1, alias="CUTOVER_RELAY_BATCH_SIZE")
    relay_poll_seconds: float = Field(default=1.0, gt=0, alias="CUTOVER_RELAY_POLL_SECONDS")
    relay_lease_seconds: float = Field(
        default=5.0,
        gt=0,
        alias="CUTOVER_RELAY_LEASE_SECONDS",
        description=(
            "How long the outbox relay's leader keeps leadership without renewing it: a leader"
            " that hangs this long is replaced by another replica, and fenced when it wakes"
        ),
    )
    dedupe_retention_hours: float = Field(
        default=336.0,
        gt=0,
        alias="CUTOVER_DEDUPE_RETENTION_HOURS",
        description=(
            "How long consumed event ids and Idempotency-Keys are kept; never shorter than the"
            " topics' retention (KAFKA_TOPIC_RETENTION_HOURS), so a replay is always recognised"
        ),
    )
    rate_limit_per_minute: int = Field(default=1200, ge=1, alias="CUTOVER_RATE_LIMIT_PER_MINUTE")
    rate_limits: str = Field(
        default="",
        alias="CUTOVER_RATE_LIMITS",
        description="Per-actor limits, 'name=per_minute,…' (service identities, load generators)",
    )
    rate_limit_storage: str = Field(
        default="async+memory://",
        alias="CUTOVER_RATE_LIMIT_STORAGE",
        description="Where the counts live: this process (default) or a store replicas share",
    )
    disconnect_step_timeout_seconds: float = Field(
        default=300.0, gt=0, alias="CUTOVER_DISCONNECT_STEP_TIMEOUT_SECONDS"
    )
    accounts_url: str = Field(default="http://127.0.0.1:8001", alias="ACCOUNTS_URL")
    billing_url: str = Field(default="http://127.0.0.1:8002", alias="BILLING_URL")
    addresses_url: str = Field(default="http://127.0.0.1:8003", alias="ADDRESSES_URL")
    scheduler_url: str = Field(default="http://127.0.0.1:8004", alias="SCHEDULER_URL")
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)

    def model_post_init(self, _context: Any) -> None:
        if self.dedupe_retention_hours < self.kafka.topic_retention_hours:
            raise ValueError(
                f"CUTOVER_DEDUPE_RETENTION_HOURS ({self.dedupe_retention_hours:g}) is shorter than"
                f" the topics' retention ({self.kafka.topic_retention_hours:g} h): a replayed"
                " event could be applied twice"
            )
        self._check_identity()
        prefix = self.service.upper()
        if not self.http_port:
            self.http_port = int(os.environ.get(f"{prefix}_PORT", DEFAULT_PORTS[self.service]))
        if not self.workers:
            self.workers = max(1, int(os.environ.get(f"{prefix}_WORKERS", "1")))
        if not self.database_url:
            self.database_url = os.environ.get(f"{prefix}_DATABASE_URL") or self._default_url()

    def _default_url(self) -> str:
        password = self.postgres_password.get_secret_value()
        credentials = f"{self.postgres_user}:{password}" if password else self.postgres_user
        return (
            f"postgresql+asyncpg://{credentials}@{self.postgres_host}:{self.postgres_port}"
            f"/{self.service}"
        )

    def _check_identity(self) -> None:
        """Half an identity configuration stops the service at start, not at its first request."""
        if self.jwks_file and self.jwks_url:
            raise ValueError("set CUTOVER_JWKS_FILE or CUTOVER_JWKS_URL, not both")
        if (self.jwks_file or self.jwks_url) and not self.token_issuer:
            raise ValueError(
                "CUTOVER_TOKEN_ISSUER is required with a JWKS: it is checked on every token"
            )
        oauth = (self.oauth_token_url, self.oauth_client_id, self.oauth_client_secret)
        if any(oauth) and not all(oauth):
            raise ValueError(
                "client credentials need CUTOVER_OAUTH_TOKEN_URL, CUTOVER_OAUTH_CLIENT_ID and"
                " CUTOVER_OAUTH_CLIENT_SECRET together"
            )
        if self.service_token_file and any(oauth):
            raise ValueError(
                "set CUTOVER_SERVICE_TOKEN_FILE or the CUTOVER_OAUTH_* variables, not both"
            )
