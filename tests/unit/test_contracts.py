"""The event contracts: the envelope, the generated AsyncAPI documents, and the topic registry."""

from __future__ import annotations

import json
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
    "raw",
    [None, b"\xff\xfe", b"{not json", b"[]", b'{"specversion": "1.0"}', b'{"id": "x"}'],
    ids=["tombstone", "not-utf8", "not-json", "array", "missing-fields", "bad-id"],
)
def test_anything_that_is_not_a_cloud_event_is_refused_with_a_reason(raw: bytes | None) -> None:
    with pytest.raises(EventDecodeError):
        decode_event(raw)


def test_topic_names_follow_the_service_event_version_form() -> None:
    for name, topic in TOPICS.items():
        service, event, version = name.split(".")
        assert service == topic.producer and service in SERVICES
        assert event and version.startswith("v") and version[1:].isdigit()
