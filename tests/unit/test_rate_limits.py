"""Rate limits per actor and service, without infrastructure: the app is built but not started, and
`DELETE /accounts/{id}` (always refused, no database) is the request counted."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from cutover_accounts.bootstrap import create_app
from cutover_kit.ratelimit import parse_overrides
from cutover_kit.settings import Settings

TOKEN = "rate-limit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def accounts_app(**values: object) -> TestClient:
    settings = Settings(service="accounts", api_token=SecretStr(TOKEN), **values)
    return TestClient(create_app(settings), raise_server_exceptions=False)


def test_past_its_limit_an_actor_gets_a_429_with_retry_after() -> None:
    client = accounts_app(rate_limit_per_minute=3)
    # Given three requests within the minute, each answered on its merits
    for _ in range(3):
        assert client.delete("/accounts/1", headers=AUTH).status_code == 405
    # When a fourth comes
    refused = client.delete("/accounts/1", headers=AUTH)
    # Then it is a 429 problem naming the actor and the limit, with when to retry
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"] == "urn:cutover:problem:rate-limited"
    assert (body["actor"], body["limit_per_minute"]) == ("operator", 3)
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    # And health, readiness and metrics are never limited
    assert client.get("/healthz").status_code == 200


def test_an_actor_given_its_own_limit_is_not_held_to_the_default() -> None:
    client = accounts_app(rate_limit_per_minute=2, rate_limits="operator=10")
    assert [client.delete("/accounts/1", headers=AUTH).status_code for _ in range(10)] == [405] * 10
    assert client.delete("/accounts/1", headers=AUTH).status_code == 429


def test_unauthenticated_requests_are_refused_before_they_count() -> None:
    client = accounts_app(rate_limit_per_minute=1)
    for _ in range(3):
        assert client.delete("/accounts/1").status_code == 401
    assert client.delete("/accounts/1", headers=AUTH).status_code == 405


@pytest.mark.parametrize("text", ["bench", "bench=", "bench=0", "=5", "bench=many"])
def test_a_malformed_override_stops_the_service_at_start(text: str) -> None:
    with pytest.raises(ValueError, match="CUTOVER_RATE_LIMITS"):
        parse_overrides(text)
