"""AsyncAPI 3.0 documents, one per service, generated from the topic registry and event models.

`python -m cutover_contracts.asyncapi DIR` writes them; a test fails when the committed documents
differ from what the contracts generate, so the docs cannot drift from the code.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from cutover_contracts.envelope import CloudEvent
from cutover_contracts.topics import SERVICES, TOPICS, Topic

REF = "#/components/schemas/{model}"


def _message_id(topic: Topic) -> str:
    return topic.data.__name__


def _envelope_schema(topic: Topic, schemas: dict[str, Any]) -> dict[str, Any]:
    data_schema = topic.data.model_json_schema(ref_template=REF)
    schemas.update(data_schema.pop("$defs", {}))
    schemas[topic.data.__name__] = data_schema
    envelope = CloudEvent.model_json_schema(ref_template=REF)
    envelope["title"] = f"CloudEvent<{topic.data.__name__}>"
    envelope["properties"]["type"] = {"const": topic.event_type, "type": "string"}
    envelope["properties"]["data"] = {"$ref": REF.format(model=topic.data.__name__)}
    return envelope


def document(service: str) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for topic in TOPICS.values():
        sends, receives = topic.producer == service, service in topic.consumers
        if not (sends or receives):
            continue
        message = _message_id(topic)
        channels[message] = {
            "address": topic.name,
            "description": topic.summary
            + (" Public: stable for other teams." if topic.public else ""),
            "messages": {message: {"$ref": f"#/components/messages/{message}"}},
            # Public topics are a promise: `compatibility` holds them to the committed baseline.
            **({"tags": [{"name": "public"}]} if topic.public else {}),
        }
        messages[message] = {
            "name": message,
            "title": topic.event_type,
            "contentType": "application/cloudevents+json",
            "payload": _envelope_schema(topic, schemas),
            "bindings": {"kafka": {"key": {"type": "string", "description": "The account id"}}},
        }
        for action, applies in (("send", sends), ("receive", receives)):
            if applies:
                operations[f"{action}{message}"] = {
                    "action": action,
                    "channel": {"$ref": f"#/channels/{message}"},
                    "messages": [{"$ref": f"#/channels/{message}/messages/{message}"}],
                }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Cutover {service} events",
            "version": "1.0.0",
            "description": (
                f"What the {service} service publishes and consumes on Kafka. Every message is a "
                "CloudEvents 1.0 JSON document (structured mode) keyed by the account id."
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": (
                    "make up: SASL/SCRAM-SHA-512 with ACLs; each service its own principal, other"
                    " teams read the public topics as `observer` (.local/dev/kafka/clients.json)"
                ),
                "security": [{"$ref": "#/components/securitySchemes/scram"}],
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"scram": {"type": "scramSha512"}},
        },
    }


def render(service: str) -> str:
    return json.dumps(document(service), indent=2, sort_keys=False) + "\n"


def write_all(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for service in SERVICES:
        path = directory / f"{service}.json"
        path.write_text(render(service))
        written.append(path)
    return written


if __name__ == "__main__":
    for path in write_all(Path(sys.argv[1] if len(sys.argv) > 1 else "contracts/asyncapi")):
        print(f"wrote {path}")
