"""The public events keep the promises of the committed AsyncAPI baseline, and the check that says
so does catch a broken promise: a field removed, retyped or no longer required, a topic dropped."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from cutover_contracts.asyncapi import document
from cutover_contracts.compatibility import breaking_changes, load, public_channels
from cutover_contracts.topics import SERVICES, TOPICS
from tests.support.infra import REPO

BASELINE = REPO / "contracts" / "asyncapi" / "baseline"
Docs = dict[str, dict[str, Any]]


def current() -> Docs:
    return {service: document(service) for service in SERVICES}


def test_the_public_events_keep_every_promise_of_the_committed_baseline() -> None:
    assert breaking_changes(load(BASELINE), current()) == [], (
        "a public event broke its contract: make it a new major version, or, if this release "
        "means to, update the baseline on purpose with `make asyncapi-baseline`"
    )


def test_every_public_topic_is_marked_public_in_its_producers_document() -> None:
    docs = current()
    marked = {topic for doc in docs.values() for topic in public_channels(doc)}
    assert marked == {topic.name for topic in TOPICS.values() if topic.public}


def schema(docs: Docs, name: str) -> dict[str, Any]:
    return docs["accounts"]["components"]["schemas"][name]


def remove_field(docs: Docs) -> None:
    del schema(docs, "AccountStatusChangedV1")["properties"]["activation"]


def retype_field(docs: Docs) -> None:
    schema(docs, "AccountDisconnectedV1")["properties"]["final_invoice_total"] = {"type": "string"}


def widen_an_enum(docs: Docs) -> None:
    cause = schema(docs, "AccountStatusChangedV1")["properties"]["cause"]
    cause["enum"] = [*cause["enum"], "merge"]


def make_optional(docs: Docs) -> None:
    schema(docs, "AccountCreatedV1")["required"].remove("name")


def allow_null(docs: Docs) -> None:
    schema(docs, "AccountArchivedV1")["properties"]["archived_at"] = {
        "anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]
    }


def drop_topic(docs: Docs) -> None:
    channels = docs["accounts"]["channels"]
    del channels["AccountReactivatedV1"]


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (remove_field, "accounts.account-status-changed.v1.data.activation: removed"),
        (
            retype_field,
            "accounts.account-disconnected.v1.data.final_invoice_total: may now be string",
        ),
        (widen_an_enum, "accounts.account-status-changed.v1.data.cause: may now be string="),
        (make_optional, "accounts.account-created.v1.data.name: no longer required"),
        (allow_null, "accounts.account-archived.v1.data.archived_at: may now be null"),
        (drop_topic, "accounts.account-reactivated.v1: public topic removed"),
    ],
)
def test_a_breaking_change_is_caught(change: Callable[[Docs], None], complaint: str) -> None:
    docs = copy.deepcopy(current())
    change(docs)
    found = breaking_changes(load(BASELINE), docs)
    assert any(problem.startswith(complaint) for problem in found), found


def test_a_new_optional_field_and_a_new_major_version_are_allowed() -> None:
    docs = copy.deepcopy(current())
    created = schema(docs, "AccountCreatedV1")
    created["properties"]["segment"] = {"type": "string"}
    channel = docs["accounts"]["channels"]["AccountReactivatedV1"]
    channel["address"] = "accounts.account-reactivated.v2"
    channel["messages"]["AccountReactivatedV1"]["$ref"] = (
        "#/components/messages/AccountReactivatedV1"
    )
    assert breaking_changes(load(BASELINE), docs) == []
