"""Whether the AsyncAPI documents still keep every promise a baseline made to other teams.

The baseline (`contracts/asyncapi/baseline/`) is the documents as last released; it changes only on
purpose (`make asyncapi-baseline`), never by a test. Against it, a public event may gain optional
fields, but a field removed, retyped (another type, format, or set of allowed values) or no longer
required breaks its consumers, and so does a public topic that disappears: each is allowed only as
a new major version (a new topic, `...v2`, beside the old one until its consumers have moved).

`python -m cutover_contracts.compatibility [BASELINE_DIR] [CURRENT_DIR]` prints the breaking changes
and exits 1 when there is one.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

Document = dict[str, Any]
VERSIONED = re.compile(r"^(?P<name>.+)\.v(?P<major>\d+)$")


def public_channels(document: Document) -> dict[str, Document]:
    """The public channels the document's service publishes (its producer's document is the one
    that holds a topic's promise; consumers' documents repeat it), by topic name."""
    sent = {
        operation["channel"]["$ref"].removeprefix("#/channels/")
        for operation in document.get("operations", {}).values()
        if operation.get("action") == "send"
    }
    return {
        channel["address"]: channel
        for key, channel in document.get("channels", {}).items()
        if key in sent and any(tag.get("name") == "public" for tag in channel.get("tags", []))
    }


def _payload(document: Document, channel: Document) -> Document:
    (message,) = channel["messages"].values()
    return _resolve(document, message)["payload"]


def _resolve(document: Document, schema: Document) -> Document:
    for _ in range(32):  # a reference to a reference; a loop of them is a broken document
        reference = schema.get("$ref")
        if reference is None:
            return schema
        schema = document
        for part in reference.removeprefix("#/").split("/"):
            schema = schema[part]
    raise ValueError(f"unresolvable $ref chain at {reference}")


def _alternatives(document: Document, schema: Document) -> dict[str, Document]:
    """A schema's alternatives by kind: `string:uuid`, `null`, `string={"a","b"}`, `object`..."""
    schema = _resolve(document, schema)
    branches = schema.get("anyOf") or schema.get("oneOf")
    if branches:
        found: dict[str, Document] = {}
        for branch in branches:
            found.update(_alternatives(document, branch))
        return found
    types = schema.get("type", "any")
    found = {}
    for kind in types if isinstance(types, list) else [types]:
        label = kind + (f":{schema['format']}" if "format" in schema else "")
        if "const" in schema:
            label += f"={json.dumps(schema['const'])}"
        if "enum" in schema:
            label += "=" + json.dumps(sorted(schema["enum"], key=json.dumps))
        found[label] = schema
    return found


def _compare(
    document_was: Document, was: Document, document: Document, now: Document, at: str
) -> list[str]:
    before, after = _alternatives(document_was, was), _alternatives(document, now)
    problems = [
        f"{at}: may now be {kind}, was only {' | '.join(sorted(before))}"
        for kind in sorted(after.keys() - before.keys())
        if "any" not in before
    ]
    for kind in sorted(before.keys() & after.keys()):
        old, new = before[kind], after[kind]
        if kind.startswith("object"):
            required_then, required_now = set(old.get("required", [])), set(new.get("required", []))
            for name, field in old.get("properties", {}).items():
                if name not in new.get("properties", {}):
                    problems.append(f"{at}.{name}: removed")
                    continue
                if name in required_then and name not in required_now:
                    problems.append(f"{at}.{name}: no longer required")
                problems += _compare(
                    document_was, field, document, new["properties"][name], f"{at}.{name}"
                )
        elif kind.startswith("array") and "items" in old:
            problems += _compare(
                document_was, old["items"], document, new.get("items", {}), f"{at}[]"
            )
    return problems


def _successor(topic: str, channels: dict[str, Document]) -> str | None:
    """A later major version of `topic` among `channels`, if there is one."""
    versioned = VERSIONED.match(topic)
    if versioned is None:
        return None
    for candidate in channels:
        match = VERSIONED.match(candidate)
        if (
            match
            and match["name"] == versioned["name"]
            and int(match["major"]) > int(versioned["major"])
        ):
            return candidate
    return None


def breaking_changes(baseline: dict[str, Document], current: dict[str, Document]) -> list[str]:
    """What `current` (documents by service) breaks of the public events `baseline` promised."""
    now: dict[str, tuple[Document, Document]] = {
        topic: (document, channel)
        for document in current.values()
        for topic, channel in public_channels(document).items()
    }
    problems: list[str] = []
    for document_was in baseline.values():
        for topic, channel_was in public_channels(document_was).items():
            if topic not in now:
                successor = _successor(topic, {name: channel for name, (_, channel) in now.items()})
                if successor is None:
                    problems.append(f"{topic}: public topic removed without a new major version")
                continue
            document, channel = now[topic]
            problems += _compare(
                document_was,
                _payload(document_was, channel_was),
                document,
                _payload(document, channel),
                topic,
            )
    return sorted(set(problems))


def load(directory: Path) -> dict[str, Document]:
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


if __name__ == "__main__":
    baseline_dir = Path(sys.argv[1] if len(sys.argv) > 1 else "contracts/asyncapi/baseline")
    current_dir = Path(sys.argv[2] if len(sys.argv) > 2 else "contracts/asyncapi")
    found = breaking_changes(load(baseline_dir), load(current_dir))
    print("\n".join(found) or "compatible")
    sys.exit(1 if found else 0)
