"""Scheduled-event types and their payloads: what the scheduler accepts and accounts carries out.

The scheduler is generic (an event type is a name and the shape of its payload); accounts decides
what each type does when it is due. Both, and the CLI, take the names and shapes from here.
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

DISCONNECT_ACCOUNT = "disconnect_account"
CHANGE_ACCOUNT_STATUS = "change_account_status"


class Payload(BaseModel):
    # Unknown fields are refused when scheduling, not silently dropped: a typo is a 422.
    model_config = ConfigDict(extra="forbid", frozen=True)


class DisconnectAccountPayload(Payload):
    reason: str | None = Field(default=None, max_length=1000)


class ChangeAccountStatusPayload(Payload):
    account_status_id: UUID


PAYLOADS: dict[str, type[Payload]] = {
    DISCONNECT_ACCOUNT: DisconnectAccountPayload,
    CHANGE_ACCOUNT_STATUS: ChangeAccountStatusPayload,
}
