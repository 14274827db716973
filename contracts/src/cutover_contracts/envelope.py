"""The CloudEvents 1.0 envelope, structured JSON mode.

Every Cutover event is one JSON document on the wire: the CloudEvents context attributes plus `data`,
keyed on Kafka by the account id. `correlationid` is a CloudEvents extension attribute carrying the
`X-Request-ID` of the HTTP request that caused the event, so one operator action can be followed
across all four services.
"""

from __future__ import annotations

import json
from typing import Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json"


class CloudEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: UUID = Field(
        description="Unique per event and stable across redelivery: consumers dedupe on it"
    )
    source: str = Field(
        description="URI reference of the producing service, e.g. /cutover/accounts"
    )
    type: str = Field(description="Reverse-DNS event type carrying its major version")
    subject: str = Field(description="The account id the event is about")
    time: AwareDatetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = None
    correlationid: str | None = Field(
        default=None, description="X-Request-ID of the causing request"
    )
    data: dict[str, Any]


class EventDecodeError(ValueError):
    """The bytes are not a CloudEvent Cutover understands; the reason goes to the dead-letter topic."""


def encode_event(event: CloudEvent) -> bytes:
    return event.model_dump_json(exclude_none=True).encode()


def decode_event(raw: bytes | None) -> CloudEvent:
    if raw is None:
        raise EventDecodeError("empty message (tombstone) where an event was expected")
    try:
        # Pydantic's own JSON parser, in one pass: half the time of `json.loads` and a validation
        # of the dict (10 against 20 µs for a disconnect request), on every consumed record.
        return CloudEvent.model_validate_json(raw)
    except ValueError:
        pass  # said again below, in the words a dead letter's reason has always used
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers past Python's digit limit;
        # RecursionError, arrays nested deeper than the parser goes.
        raise EventDecodeError(f"not JSON: {type(exc).__name__}: {exc}"[:500]) from exc
    try:
        return CloudEvent.model_validate(document)
    except ValueError as exc:
        raise EventDecodeError(f"not a CloudEvent: {exc}") from exc
