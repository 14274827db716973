"""Tokens without infrastructure: verification against a JWKS (file and URL), key rotation, the
break-glass token, scopes at the HTTP edge, and the services' own identities (token file, OAuth2
client credentials against a stub provider)."""

from __future__ import annotations

import importlib
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from cutover_cli.main import app as cli
from cutover_kit import identity
from cutover_kit.auth import SCOPES, JwksFile, JwksUrl, TokenVerifier, Unauthorized, requires
from cutover_kit.db import UnitOfWork
from cutover_kit.http import build_app
from cutover_kit.identity import ClientCredentials, ServiceAuth, TokenFile
from cutover_kit.runtime import ServiceRuntime
from cutover_kit.settings import Settings
from tests.support.tokens import ISSUER, TestIssuer, second_key_jwks

BREAK_GLASS = "unit-break-glass"


class Clock:
    """`time.monotonic` for the module under test, moved by hand: no test waits for real time."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr("cutover_kit.auth.time.monotonic", fake)
    monkeypatch.setattr("cutover_kit.identity.time.monotonic", fake)
    return fake


@pytest.fixture
def issuer(tmp_path: Path) -> TestIssuer:
    return TestIssuer(tmp_path / "auth")


def verifier_for(issuer: TestIssuer) -> TokenVerifier:
    return TokenVerifier(JwksFile(issuer.jwks_file), issuer=ISSUER, break_glass=BREAK_GLASS)


async def test_a_token_names_its_actor_by_name_else_sub_and_holds_its_known_scopes(
    issuer: TestIssuer,
) -> None:
    verifier = verifier_for(issuer)
    named = await verifier.verify(issuer.token("ada", {"accounts:read", "ops"}))
    assert named.actor == "ada" and named.scopes == {"accounts:read", "ops"}

    unnamed = issuer.signed(issuer.claims(name=None, sub="svc-42", scope="billing:read admin:all"))
    principal = await verifier.verify(unnamed)
    assert principal.actor == "svc-42" and principal.scopes == {"billing:read"}

    with pytest.raises(Unauthorized, match="names no caller"):
        await verifier.verify(issuer.signed(issuer.claims(name=None, sub=None)))


@pytest.mark.parametrize(
    ("case", "said"),
    [
        ("expired", "expired"),
        ("signed by another key (same kid)", "signature does not verify"),
        ("signed by an unknown key", "unknown key"),
        ("another issuer", "not issued by 'urn:cutover:test'"),
        ("another audience", "audience (aud) must be 'cutover'"),
        ("no exp", "no 'exp' claim"),
        ("no kid", "names no key"),
        ("alg none", "'none' is not accepted"),
        ("HS256 keyed with the public key", "'HS256' is not accepted"),
        ("not a JWT", "not valid"),
    ],
)
async def test_a_bad_token_is_refused_saying_why(issuer: TestIssuer, case: str, said: str) -> None:
    with pytest.raises(Unauthorized, match=re.escape(said)):
        await verifier_for(issuer).verify(issuer.refused_tokens()[case])


async def test_the_break_glass_token_has_every_scope_as_the_operator(issuer: TestIssuer) -> None:
    principal = await verifier_for(issuer).verify(BREAK_GLASS)
    assert principal.actor == "operator" and principal.scopes == SCOPES
    without = TokenVerifier(JwksFile(issuer.jwks_file), issuer=ISSUER, break_glass=None)
    with pytest.raises(Unauthorized):
        await without.verify(BREAK_GLASS)


async def test_two_keys_in_the_jwks_both_verify_and_a_rewritten_file_is_read_again(
    issuer: TestIssuer,
) -> None:
    # Given a service verifying with the issuer's JWKS of one key
    verifier = verifier_for(issuer)
    new_key, rotated = second_key_jwks(issuer)
    new_kid = rotated["keys"][1]["kid"]
    new_token = jwt.encode(issuer.claims(name="bob"), new_key, "ES256", headers={"kid": new_kid})
    with pytest.raises(Unauthorized, match="unknown key"):
        await verifier.verify(new_token)

    # When the file is rewritten with the new key beside the old one (a rotation under way)
    issuer.jwks_file.write_text(json.dumps(rotated))

    # Then tokens of both keys are accepted, without a restart
    assert (await verifier.verify(new_token)).actor == "bob"
    assert (await verifier.verify(issuer.token("ada", {"ops"}))).actor == "ada"


async def test_a_jwks_url_is_fetched_again_for_an_unknown_kid_but_not_more_than_the_cooldown_allows(
    issuer: TestIssuer, clock: Clock
) -> None:
    served = {"jwks": json.loads(issuer.jwks_file.read_text())}
    fetches: list[float] = []

    def provider(_: httpx.Request) -> httpx.Response:
        fetches.append(clock.now)
        return httpx.Response(200, json=served["jwks"])

    keys = JwksUrl("https://idp.test/jwks", cooldown=10, transport=httpx.MockTransport(provider))
    verifier = TokenVerifier(keys, issuer=ISSUER, break_glass=None)
    assert (await verifier.verify(issuer.token("ada", {"ops"}))).actor == "ada"
    assert (await verifier.verify(issuer.token("ada", {"ops"}))).actor == "ada"
    assert len(fetches) == 1  # cached

    # The provider rotates a key in; a token of the new key arrives
    new_key, served["jwks"] = second_key_jwks(issuer)
    kid = served["jwks"]["keys"][1]["kid"]
    token = jwt.encode(issuer.claims(name="bob"), new_key, "ES256", headers={"kid": kid})
    with pytest.raises(Unauthorized):  # within the cooldown of the first fetch: not asked again
        await verifier.verify(issuer.refused_tokens()["signed by an unknown key"])
    clock.now += 11
    assert (await verifier.verify(token)).actor == "bob"
    assert len(fetches) == 2
    for _ in range(5):  # unknown kids within the cooldown: no more fetches
        with pytest.raises(Unauthorized, match="unknown key"):
            await verifier.verify(issuer.refused_tokens()["signed by an unknown key"])
    assert len(fetches) == 2
    await verifier.close()


def test_a_jwks_without_an_issuer_or_half_client_credentials_stop_the_service_at_start() -> None:
    with pytest.raises(ValueError, match="CUTOVER_TOKEN_ISSUER is required"):
        Settings(service="accounts", jwks_file="/tmp/jwks.json")
    with pytest.raises(ValueError, match="together"):
        Settings(service="accounts", oauth_token_url="https://idp.test/token")


# --- scopes at the HTTP edge ----------------------------------------------------------------------


@pytest.fixture
def billing(issuer: TestIssuer) -> Iterator[TestClient]:
    """Billing's app, built but not started: every answer below comes before a use case runs."""
    settings = Settings(
        service="billing",
        api_token=SecretStr(BREAK_GLASS),
        jwks_file=str(issuer.jwks_file),
        token_issuer=ISSUER,
    )
    app = importlib.import_module("cutover_billing.bootstrap").create_app(settings)
    yield TestClient(app, raise_server_exceptions=False)


def test_a_valid_token_without_the_scope_is_a_403_naming_it(
    issuer: TestIssuer, billing: TestClient
) -> None:
    token = issuer.token("ada", SCOPES - {"ops"})
    response = billing.get("/dead-letters", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "urn:cutover:problem:insufficient-scope"
    assert body["missing_scopes"] == ["ops"] and "ops" in body["detail"]


def test_a_refused_token_is_a_401_problem_saying_why(
    issuer: TestIssuer, billing: TestClient
) -> None:
    expired = issuer.refused_tokens()["expired"]
    response = billing.get("/invoices/1", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401
    assert response.json()["type"] == "urn:cutover:problem:unauthorized"
    assert "expired" in response.json()["detail"]


def test_an_app_with_a_route_that_declares_no_scope_is_refused_at_build() -> None:
    router = APIRouter()

    @router.get("/forgotten")
    async def forgotten() -> None:
        return None

    @router.get("/remembered", dependencies=[requires("ops")])
    async def remembered() -> None:
        return None

    with pytest.raises(RuntimeError, match=r"GET /forgotten$"):
        build_app(
            ServiceRuntime(Settings(service="billing"), unit_of_work=UnitOfWork),
            title="t",
            description="d",
            routers=[router],
        )
    with pytest.raises(ValueError, match="unknown scopes"):
        requires("accounts:admin")


# --- the services' own identities -----------------------------------------------------------------


async def test_a_token_file_rewritten_with_a_new_token_is_used_from_the_next_call(
    tmp_path: Path,
) -> None:
    path = tmp_path / "billing.jwt"
    path.write_text("first-token\n")
    seen: list[str] = []

    def accounts(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(200, json={})

    auth = ServiceAuth(TokenFile(path))
    async with httpx.AsyncClient(auth=auth, transport=httpx.MockTransport(accounts)) as client:
        await client.get("https://accounts.test/accounts/1")
        path.write_text("second-token\n")
        await client.get("https://accounts.test/accounts/1")
    assert seen == ["Bearer first-token", "Bearer second-token"]


async def test_client_credentials_are_granted_once_renewed_before_expiry_and_after_a_401(
    clock: Clock,
) -> None:
    grants: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        grants.append(request)
        return httpx.Response(
            200,
            json={
                "access_token": f"granted-{len(grants)}",
                "token_type": "Bearer",
                "expires_in": 3600,
            },
        )

    source = ClientCredentials(
        "https://idp.test/token",
        "billing",
        "s3cret",
        ("accounts:read",),
        transport=httpx.MockTransport(provider),
    )
    # The grant: client_credentials, the service's scopes, client authentication by HTTP Basic
    assert await source.token() == "granted-1"
    assert await source.token() == "granted-1"
    [grant] = grants
    assert grant.headers["Authorization"] == httpx.BasicAuth("billing", "s3cret")._auth_header
    form = dict(item.split("=") for item in grant.content.decode().split("&"))
    assert form == {"grant_type": "client_credentials", "scope": "accounts%3Aread"}

    # A token past 80% of its lifetime is renewed before it is used again
    clock.now += 3600 * 0.79
    assert await source.token() == "granted-1"
    clock.now += 3600 * 0.02
    assert await source.token() == "granted-2"

    # A 401 from the called service takes a fresh token and tries once more
    answers = iter([401, 200])
    seen: list[str] = []

    def accounts(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(next(answers), json={})

    transport = httpx.MockTransport(accounts)
    async with httpx.AsyncClient(auth=ServiceAuth(source), transport=transport) as client:
        response = await client.get("https://accounts.test/accounts/1")
    assert response.status_code == 200
    assert seen == ["Bearer granted-2", "Bearer granted-3"]
    await source.close()


def test_the_break_glass_token_is_the_identity_only_when_nothing_else_is_set(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "t.jwt"
    path.write_text("x")
    common = {"oauth_token_url": None, "oauth_client_id": None, "oauth_client_secret": None}
    chosen = identity.service_identity("billing", token_file=str(path), break_glass="b", **common)
    assert isinstance(chosen.source, TokenFile)
    with caplog.at_level("WARNING", logger=identity.__name__):
        fallback = identity.service_identity("billing", token_file=None, break_glass="b", **common)
    assert isinstance(fallback.source, identity.StaticToken)
    assert "break-glass CUTOVER_API_TOKEN" in caplog.text


# --- the local stack's tokens ---------------------------------------------------------------------


async def test_cutover_tokens_issue_prints_a_token_the_services_accept(tmp_path: Path) -> None:
    # Given the local stack's key, made as `make up` makes it
    key_dir = tmp_path / "dev"
    runner = CliRunner()
    assert runner.invoke(cli, ["tokens", "init", "--key-dir", str(key_dir)]).exit_code == 0
    assert (key_dir / "signing-key.pem").stat().st_mode & 0o777 == 0o600

    # When a token is issued for a name and scopes
    issued = runner.invoke(
        cli,
        ["tokens", "issue", "--key-dir", str(key_dir), "--name", "Ada Lovelace"]
        + ["--scope", "accounts:read", "--scope", "accounts:lifecycle", "--ttl", "1h"],
    )
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]

    # Then a service pointed at that stack's JWKS and issuer accepts it as hers, with those scopes
    issuer = (key_dir / "token-issuer").read_text().strip()
    verifier = TokenVerifier(JwksFile(key_dir / "jwks.json"), issuer=issuer, break_glass=None)
    principal = await verifier.verify(token)
    assert principal.actor == "Ada Lovelace"
    assert principal.scopes == {"accounts:read", "accounts:lifecycle"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600 and claims["aud"] == "cutover"

    # And an unknown scope or duration is a usage error
    for wrong in (["--scope", "accounts:admin"], ["--scope", "ops", "--ttl", "forever"]):
        refused = runner.invoke(
            cli, ["tokens", "issue", "--key-dir", str(key_dir), "--name", "x", *wrong]
        )
        assert refused.exit_code == 2
