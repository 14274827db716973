"""The HTTP edge every service shares, without infrastructure: auth, problems, request ids.

The apps are built but not started (no lifespan), so nothing here reaches a database or broker:
every request below is answered before a use case would run.
"""

from __future__ import annotations

import importlib
import tempfile
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError

from cutover_contracts.topics import SERVICES
from cutover_kit.dead_letters import DeadLetterNotFound
from cutover_kit.errors import AccountNotFound
from cutover_kit.openapi import PROBLEM_CONTENT
from cutover_kit.problems import install_problem_handlers
from cutover_kit.settings import Settings
from tests.support.tokens import ISSUER, TestIssuer

TOKEN = "unit-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ISSUER_DIR = Path(tempfile.mkdtemp(prefix="cutover-unit-auth-"))
TEST_ISSUER = TestIssuer(ISSUER_DIR / "auth")
EXPIRED = TEST_ISSUER.refused_tokens()["expired"]


def client_for(service: str, **settings_values: str) -> TestClient:
    bootstrap = importlib.import_module(f"cutover_{service}.bootstrap")
    settings = Settings(
        **settings_values,
        service=service,
        api_token=SecretStr(TOKEN),
        jwks_file=str(TEST_ISSUER.jwks_file),
        token_issuer=ISSUER,
    )
    return TestClient(bootstrap.create_app(settings), raise_server_exceptions=False)


def protected_routes(client: TestClient) -> list[tuple[str, str]]:
    spec = client.get("/openapi.json").json()
    open_paths = {"/healthz", "/readyz", "/metrics"}
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        if path not in open_paths
        for method in operations
    ]


@pytest.mark.parametrize("service", SERVICES)
def test_every_json_answer_is_described_by_a_schema(service: str) -> None:
    # An answer documented as an empty schema tells the callers nothing (the report's JSON pages
    # were, as its route also streams CSV; so was readiness).
    spec = client_for(service).get("/openapi.json").json()
    undescribed = [
        (method.upper(), path, status)
        for path, operations in spec["paths"].items()
        for method, operation in operations.items()
        for status, answer in operation["responses"].items()
        if status.startswith("2")
        and "application/json" in answer.get("content", {})
        and not set(answer["content"]["application/json"]["schema"]) - {"title", "description"}
    ]
    assert undescribed == []


@pytest.mark.parametrize("service", SERVICES)
def test_readiness_documents_its_503_with_the_report_and_every_other_error_as_a_problem(
    service: str,
) -> None:
    spec = client_for(service).get("/openapi.json").json()
    not_ready = spec["paths"]["/readyz"]["get"]["responses"]["503"]["content"]
    assert set(not_ready) == {"application/problem+json"}
    schema = not_ready["application/problem+json"]["schema"]
    assert {"type", "title", "status", "detail", "checks", "topics", "relay"} <= set(
        schema["required"]
    )
    others = [
        answer["content"]
        for path, operations in spec["paths"].items()
        for operation in operations.values()
        for status, answer in operation["responses"].items()
        if status[0] in "45" and not (path == "/readyz" and status == "503")
    ]
    assert all(content == PROBLEM_CONTENT for content in others)


@pytest.mark.parametrize("service", SERVICES)
def test_only_the_guarded_routes_document_the_guards_refusals(service: str) -> None:
    client = client_for(service)
    spec = client.get("/openapi.json").json()
    guarded = set(protected_routes(client))
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            refusals = {"401", "403", "429"} & set(operation["responses"])
            assert refusals == (
                {"401", "403", "429"} if (method.upper(), path) in guarded else set()
            )


def assert_problem(response, status: int) -> dict:  # noqa: ANN001
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    return body


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_but_health_and_docs_needs_a_valid_token(service: str) -> None:
    client = client_for(service)
    routes = protected_routes(client)
    for method, path in routes:
        url = path.replace("{account_id}", "1").replace(
            "{disconnect_id}", "00000000-0000-4000-8000-000000000000"
        )
        url = url.replace("{invoice_id}", "00000000-0000-4000-8000-000000000000")
        url = url.replace("{address_id}", "00000000-0000-4000-8000-000000000000")
        url = url.replace("{event_id}", "00000000-0000-4000-8000-000000000000")
        url = url.replace("{letter_id}", "00000000-0000-4000-8000-000000000000")
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Basic abc"},
            {"Authorization": f"Bearer {EXPIRED}"},
        ):
            response = client.request(method, url, headers=headers)
            body = assert_problem(response, 401)
            assert body["type"] == "urn:cutover:problem:unauthorized"


def test_an_expired_token_is_told_apart_from_a_wrong_one() -> None:
    client = client_for("accounts")
    expired = assert_problem(
        client.get("/accounts", headers={"Authorization": f"Bearer {EXPIRED}"}), 401
    )
    assert "has expired" in expired["detail"]
    wrong = assert_problem(client.get("/accounts", headers={"Authorization": "Bearer x"}), 401)
    assert "not valid" in wrong["detail"]


def test_a_database_out_of_reach_is_a_503_to_retry_not_a_500() -> None:
    # Port 9 (discard) has no server: the connection is refused, as during a database restart.
    client = client_for("accounts", database_url="postgresql+asyncpg://postgres@127.0.0.1:9/x")
    response = client.get("/accounts", headers=AUTH)
    body = assert_problem(response, 503)
    assert body["type"] == "urn:cutover:problem:temporarily-unavailable"
    assert response.headers["retry-after"] == "1"


class PostgresError(Exception):
    """What the driver raises: the SQLSTATE is all the edge reads."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"SQLSTATE {sqlstate}")
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("sqlstate", "said"), [("23505", "wrote the same thing"), ("23503", "was missing")]
)
def test_a_unique_or_foreign_key_violation_reaching_the_edge_is_a_409_not_a_500(
    sqlstate: str, said: str
) -> None:
    # Given a route whose write loses a race it does not settle itself
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/things")
    async def create_thing() -> None:
        raise IntegrityError("INSERT INTO things …", {}, PostgresError(sqlstate))

    # When it is called
    response = TestClient(app, raise_server_exceptions=False).post("/things")

    # Then the client is told of a conflict, not of a server error
    body = assert_problem(response, 409)
    assert body["type"] == "urn:cutover:problem:conflict"
    assert said in body["detail"] and "nothing was written" in body["detail"]


def test_an_id_that_names_nothing_is_a_404_naming_the_thing_and_carrying_the_id() -> None:
    # Given a route that looks up an account and a dead letter that do not exist
    app = FastAPI()
    install_problem_handlers(app)
    letter_id = uuid.uuid4()

    @app.get("/accounts/{account_id}")
    async def get_account(account_id: int) -> None:
        raise AccountNotFound(account_id)

    @app.get("/dead-letters")
    async def get_letter() -> None:
        raise DeadLetterNotFound(letter_id)

    client = TestClient(app, raise_server_exceptions=False)

    # When each is asked for, then each 404 says what is missing and carries its id
    account = assert_problem(client.get("/accounts/7"), 404)
    assert account["type"] == "urn:cutover:problem:account-not-found"
    assert account["detail"] == "Account 7 does not exist." and account["account_id"] == 7
    letter = assert_problem(client.get("/dead-letters"), 404)
    assert letter["type"] == "urn:cutover:problem:dead-letter-not-found"
    assert letter["detail"] == f"Dead letter {letter_id} does not exist."
    assert letter["dead_letter_id"] == str(letter_id)


@pytest.mark.parametrize("service", SERVICES)
def test_health_metrics_and_docs_are_open(service: str) -> None:
    client = client_for(service)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/metrics").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/docs").status_code == 200


def test_validation_errors_are_problems_listing_each_error() -> None:
    client = client_for("accounts")
    response = client.post("/accounts", headers=AUTH, json={"name": "", "account_type_id": "x"})
    body = assert_problem(response, 422)
    assert body["type"] == "urn:cutover:problem:validation-error"
    locations = {tuple(error["location"]) for error in body["errors"]}
    assert ("body", "name") in locations and ("body", "account_type_id") in locations


@pytest.mark.parametrize("amount", [0, -5, 19.99, "1999", True, None, 10**30])
def test_a_debit_amount_must_be_a_positive_integer_of_minor_units(amount: object) -> None:
    client = client_for("billing")
    response = client.post(
        "/accounts/1/debits", headers=AUTH, json={"amount": amount, "description": "x"}
    )
    assert_problem(response, 422)


@pytest.mark.parametrize(
    ("service", "path", "body"),
    [
        ("accounts", "/accounts", {"id": "5"}),
        ("accounts", "/accounts", {"parent_account_id": True}),
        ("scheduler", "/scheduled-events", {"run_at": 4102444800}),
    ],
)
def test_ids_and_times_in_bodies_are_what_the_document_says(
    service: str, path: str, body: dict
) -> None:
    # What schemathesis' negative phase sends: `true` was read as account 1, a number as Unix seconds.
    defaults = {
        "/accounts": {"name": "a", "account_type_id": "00000000-0000-4000-8000-000000000101"},
        "/scheduled-events": {"event_type": "disconnect_account", "account_id": 1},
    }
    response = client_for(service).post(path, headers=AUTH, json={**defaults[path], **body})
    assert_problem(response, 422)


@pytest.mark.parametrize("flag", ["true", 1, 0, None])
def test_a_status_says_whether_it_activates_with_a_json_boolean(flag: object) -> None:
    # A schema that says boolean must not take "true" or 1 for one (schemathesis' negative phase).
    client = client_for("accounts")
    body = {"name": "Paused", "activates_account": flag}
    assert_problem(client.post("/account-statuses", headers=AUTH, json=body), 422)


def test_unknown_routes_and_methods_are_problems() -> None:
    client = client_for("accounts")
    assert_problem(client.get("/nowhere", headers=AUTH), 404)
    assert_problem(client.patch("/healthz", headers=AUTH), 405)


@pytest.mark.parametrize("request_id", ["a" * 129, "bad id", "x\u00e9".encode(), "evil\r"])
def test_a_malformed_request_id_is_refused(request_id: str | bytes) -> None:
    client = client_for("accounts")
    response = client.get("/healthz", headers={"X-Request-ID": request_id})
    assert_problem(response, 400)


def test_a_request_id_is_echoed() -> None:
    response = client_for("accounts").get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert response.headers["X-Request-ID"] == "abc-123"
