"""Events checked against the AsyncAPI document their producer publishes, with a maintained JSON
Schema validator (jsonschema-rs), as another team's consumer would check them."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import jsonschema_rs

from cutover_contracts.asyncapi import document
from cutover_contracts.topics import topic_for


@cache
def _validator(topic_name: str) -> Any:
    topic = topic_for(topic_name)
    # The message's payload schema, with the document around it so its `#/components/...`
    # references resolve (AsyncAPI's own keys are not JSON Schema keywords and are ignored).
    root = {
        **document(topic.producer),
        "$ref": f"#/components/messages/{topic.data.__name__}/payload",
    }
    return jsonschema_rs.Draft202012Validator(root, validate_formats=True)


def schema_errors(topic_name: str, raw: bytes) -> list[str]:
    """Why the bytes sent on `topic_name` do not match its AsyncAPI message (empty when they do)."""
    return [
        f"{'/'.join(map(str, error.instance_path))}: {error.message}"
        for error in _validator(topic_name).iter_errors(json.loads(raw))
    ]
