"""Hostile input at the HTTP edge: a clear 4xx problem, never a 500, and the request stops there.

These requests are answered before any use case runs (the apps are not started), which is the
point: nothing can be written by a request refused at the edge.
"""

from __future__ import annotations

import pytest

from tests.unit.test_http_edge import AUTH, assert_problem, client_for

JSON = {**AUTH, "Content-Type": "application/json"}

pytestmark = pytest.mark.faults


def test_an_oversized_body_is_refused_with_413() -> None:
    client = client_for("accounts")
    body = b'{"name": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    assert_problem(client.post("/accounts", content=body, headers=JSON), 413)


def test_an_oversized_body_without_a_length_is_refused_too() -> None:
    client = client_for("accounts")

    def chunks():  # noqa: ANN202 - sent with Transfer-Encoding: chunked, no Content-Length
        for _ in range(40):
            yield b"x" * 65536

    assert_problem(client.post("/accounts", content=chunks(), headers=JSON), 413)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"name": "a", "account_type_id": "00000000-0000-4000-8000-000000000101", "id": '
        + b"9" * 5000
        + b"}",
    ],
    ids=["deep", "huge-int-literal"],
)
def test_json_that_cannot_be_parsed_at_all_is_a_400_problem(body: bytes) -> None:
    response = client_for("accounts").post("/accounts", content=body, headers=JSON)
    assert assert_problem(response, 400)["type"] == "urn:cutover:problem:malformed-request"


@pytest.mark.parametrize(
    "body",
    [
        b'{"name": "a", "account_type_id": "00000000-0000-4000-8000-000000000101", "id": '
        + b"9" * 30
        + b"}",  # too large for an account id
        b"\xff\xfe\x00garbage",  # not UTF-8
        b'{"name": "unterminated',
        b"",
        b"null",
    ],
    ids=["huge-id", "not-utf8", "truncated", "empty", "null"],
)
def test_malformed_json_is_a_422_problem(body: bytes) -> None:
    response = client_for("accounts").post("/accounts", content=body, headers=JSON)
    assert_problem(response, 422)


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "multipart/form-data"])
def test_a_wrong_content_type_is_a_4xx_problem(content_type: str) -> None:
    response = client_for("billing").post(
        "/accounts/1/debits",
        content=b'{"amount": 5, "description": "x"}',
        headers={**AUTH, "Content-Type": content_type},
    )
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == "application/problem+json"


def test_a_header_injection_in_the_request_id_is_refused() -> None:
    client = client_for("accounts")
    response = client.get("/healthz", headers={"X-Request-ID": "abc\r\nSet-Cookie: evil=1"})
    assert_problem(response, 400)
    assert "set-cookie" not in response.headers
