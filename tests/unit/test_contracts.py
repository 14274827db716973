"""The event contracts: the envelope, the generated AsyncAPI documents, and the topic registry."""

from __future__ import annotations

import json
import math
import re
import uuid
from datetime import UTC, datetime

import pytest

from cutover_contracts.asyncapi import render
from cutover_contracts.envelope import CloudEvent, EventDecodeError, decode_event, encode_event
from cutover_contracts.topics import SERVICES, TOPICS
from tests.support.infra import REPO


@pytest.mark.parametrize("service", SERVICES)
def test_committed_asyncapi_documents_match_the_contracts(service: str) -> None:
    committed = (REPO / "contracts" / "asyncapi" / f"{service}.json").read_text()
    assert committed == render(service), "stale: run `make asyncapi` and commit the result"


def test_a_cloud_event_survives_the_wire() -> None:
    event = CloudEvent(
        id=uuid.uuid4(),
        source="/cutover/accounts",
        type="cutover.accounts.account-created.v1",
        subject="42",
        time=datetime.now(UTC),
        correlationid="req-1",
        data={"account_id": 42},
    )
    assert decode_event(encode_event(event)) == event
    assert json.loads(encode_event(event))["specversion"] == "1.0"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (None, "empty message (tombstone)"),
        (b'{"id": "\xff"}', "not JSON: UnicodeDecodeError"),
        (b"{not json", "not JSON: JSONDecodeError"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON: RecursionError"),
        (b"[]", "not a CloudEvent"),
        (b'{"specversion": "1.0"}', "not a CloudEvent"),
        (b'{"id": "x"}', "not a CloudEvent"),
    ],
    ids=["tombstone", "not-utf8", "not-json", "too-deep", "array", "missing-fields", "bad-id"],
)
def test_anything_that_is_not_a_cloud_event_is_refused_with_a_reason(
    raw: bytes | None, reason: str
) -> None:
    """The fast parse's failures are told in the standard library's words, as always."""
    with pytest.raises(EventDecodeError, match=f"^{re.escape(reason)}"):
        decode_event(raw)


def test_the_fast_parse_reads_what_the_standard_library_reads() -> None:
    raw = (
        b'{"specversion": "1.0", "id": "6f1c3c1e-2a4b-4c1d-9f0e-0a1b2c3d4e5f", "source": "/x",'
        b' "type": "t", "subject": "7", "time": "2026-12-04T10:00:00+01:00",'
        b' "data": {"n": NaN, "k": 1, "k": 2, "big": 123456789012345678901234567890}}'
    )
    event = decode_event(raw)
    expected = CloudEvent.model_validate(json.loads(raw))
    assert event.model_dump(exclude={"data"}) == expected.model_dump(exclude={"data"})
    assert event.data["k"] == 2 and event.data["big"] == 123456789012345678901234567890
    assert math.isnan(event.data["n"])


def test_topic_names_follow_the_service_event_version_form() -> None:
    for name, topic in TOPICS.items():
        service, event, version = name.split(".")
        assert service == topic.producer and service in SERVICES
        assert event and version.startswith("v") and version[1:].isdigit()
