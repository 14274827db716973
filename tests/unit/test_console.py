"""The console's own rules, without a browser or a service: the session cookie, CSRF, sign-in
required, the report's period and the chart's months."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime

import jwt
import pytest
from cryptography.fernet import Fernet, MultiFernet
from fastapi.testclient import TestClient

from cutover_console.app import build_app
from cutover_console.chart import monthly_chart, months
from cutover_console.report import api_parameters
from cutover_console.session import COOKIE, Session
from cutover_console.settings import ConfigurationError, Settings


def keys() -> MultiFernet:
    return MultiFernet([Fernet(Fernet.generate_key())])


def client() -> TestClient:
    settings = Settings.from_env({"CONSOLE_SECRET_KEY": Fernet.generate_key().decode()})
    return TestClient(build_app(settings), follow_redirects=False)


def test_a_session_is_sealed_and_opened_only_with_its_key() -> None:
    key = keys()
    session = Session()
    session.sign_in("opaque-break-glass-token", "Europe/Paris")

    opened = Session.open(session.seal(key), key)

    assert (opened.token, opened.tz, opened.actor, opened.scopes) == (
        "opaque-break-glass-token",
        "Europe/Paris",
        "operator",
        None,
    )
    assert "opaque" not in session.seal(key)
    assert not Session.open(session.seal(keys()), key).signed_in  # another key: a new session
    assert not Session.open("forged", key).signed_in


def test_a_session_ends_with_its_tokens_exp() -> None:
    key = keys()
    token = jwt.encode(
        {"name": "Ada", "scope": "accounts:read ops", "exp": int(time.time()) - 1},
        "k" * 32,
        "HS256",
    )
    session = Session()
    session.sign_in(token, "UTC")

    assert session.actor == "Ada" and session.can("ops") and not session.can("accounts:write")
    assert not Session.open(session.seal(key), key).signed_in


def test_a_rotated_key_still_opens_the_cookies_of_the_previous_one() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    session = Session()
    session.sign_in("token", "UTC")
    sealed = session.seal(Settings.from_env({"CONSOLE_SECRET_KEY": old}).cookie_keys)

    rotated = Settings.from_env({"CONSOLE_SECRET_KEY": f"{new},{old}"}).cookie_keys

    assert Session.open(sealed, rotated).token == "token"


def test_the_console_refuses_to_start_without_a_cookie_key() -> None:
    with pytest.raises(ConfigurationError, match="CONSOLE_SECRET_KEY"):
        Settings.from_env({})


@pytest.mark.parametrize("path", ["/accounts", "/accounts/1", "/scheduled-events", "/operations"])
def test_every_page_needs_a_sign_in(path: str) -> None:
    answer = client().get(path)

    assert answer.status_code == 303
    assert answer.headers["location"] == f"/sign-in?next={path}"


def test_a_form_without_the_csrf_token_is_refused_before_anything_is_asked() -> None:
    console = client()
    console.get("/sign-in")

    answer = console.post("/sign-in", data={"token": "anything", "csrf": "guessed"})

    assert answer.status_code == 403
    assert "Form expired" in answer.text


def test_the_session_cookie_is_httponly_and_samesite_strict_and_pages_forbid_foreign_scripts() -> (
    None
):
    answer = client().get("/sign-in")

    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]


def test_the_reports_period_is_whole_days_in_the_operators_zone_to_included() -> None:
    params = api_parameters(
        {"from": "2026-01-01", "to": "2026-01-31", "disconnections_q": "ada"}, "Europe/Paris"
    )

    assert params == {
        "from": "2026-01-01T00:00:00+01:00",
        "to": "2026-02-01T00:00:00+01:00",
        "disconnections_q": "ada",
    }


def test_the_chart_has_one_pair_of_bars_a_month_of_the_period() -> None:
    labels = months(datetime(2025, 11, 15, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
    chart = monthly_chart(
        labels,
        {"activations": Counter({"2025-12": 3}), "disconnections": Counter({"2026-01": 1})},
    )

    assert labels == ["2025-11", "2025-12", "2026-01"]
    assert chart.count("<rect") == 6
    assert "Activations in 2025-12: 3" in chart and "Disconnections in 2026-01: 1" in chart
