"""Cutover's public event contracts.

The only thing services share about each other: the CloudEvents envelope, the schema of every event
(frozen, versioned Pydantic models) and the topic each one travels on. A service never imports another
service; it imports this package.
"""

from cutover_contracts.envelope import CloudEvent, decode_event, encode_event
from cutover_contracts.topics import TOPICS, Topic, topic_for

__all__ = ["CloudEvent", "TOPICS", "Topic", "decode_event", "encode_event", "topic_for"]
