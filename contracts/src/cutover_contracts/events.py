"""The data of every Cutover event, one frozen model per event and major version.

A breaking change to an event is a new model with a new major version (`...V2`) on a new topic; the
old one keeps flowing until its consumers have moved. Additive, optional fields are not breaking.
Money is always an integer amount in the currency's minor unit plus an ISO 4217 code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

# Account ids are PostgreSQL bigints: an id past int64 is refused when the event is decoded (and
# dead-lettered), not by the database halfway through a batch.
PositiveInt = Annotated[int, Field(gt=0, le=2**63 - 1)]


class EventData(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


Currency = str
DisconnectSource = Literal["manual", "scheduled"]
# What set a status change off: a PATCH, a due `change_account_status`, a disconnect (manual or
# scheduled: `scheduled_event_id` tells them apart) or a reactivation.
StatusChangeCause = Literal["edit", "scheduled", "disconnect", "reactivate"]
Actor = Annotated[
    str | None,
    Field(max_length=200, description="Who did it: their token's name (else sub), or `system`"),
]


# --- accounts -------------------------------------------------------------------------------------


class AccountCreatedV1(EventData):
    """An account exists; billing, addresses and scheduler keep a local copy from this."""

    account_id: PositiveInt
    name: str
    account_type_id: UUID
    account_status_id: UUID
    parent_account_id: PositiveInt | None = None
    created_at: AwareDatetime
    activated_at: AwareDatetime | None = Field(
        default=None, description="Set when it was created in an activating status"
    )
    actor: Actor = None


class AccountStatusChangedV1(EventData):
    """An account's status changed, whatever caused it; `activation` when the change recorded an
    activation (a lead made active, a reactivation). The change's correlation id is the envelope's
    `correlationid`, repeated here for consumers that keep only `data`."""

    account_id: PositiveInt
    from_status_id: UUID
    to_status_id: UUID
    cause: StatusChangeCause
    activation: bool
    actor: Actor = None
    changed_at: AwareDatetime
    correlation_id: str | None = None
    disconnect_id: UUID | None = Field(default=None, description="Set when cause is disconnect")
    scheduled_event_id: UUID | None = Field(
        default=None, description="The due scheduled event that caused it, if one did"
    )


class AccountUpdatedV1(EventData):
    """An edit of anything but the status (which is `AccountStatusChanged`): the account's
    name, type and parent after it, and which of them changed."""

    account_id: PositiveInt
    name: str
    account_type_id: UUID
    parent_account_id: PositiveInt | None = None
    changed: list[Literal["name", "account_type_id", "parent_account_id"]]
    actor: Actor = None
    updated_at: AwareDatetime


class AccountDisconnectRequestedV1(EventData):
    """The start of every disconnect, manual or scheduled: billing and addresses act on it."""

    disconnect_id: UUID
    account_id: PositiveInt
    source: DisconnectSource
    scheduled_event_id: UUID | None = None
    reason: str | None = None
    status_id: UUID = Field(description="The Disconnect Account Status the account moved to")
    requested_at: AwareDatetime
    actor: Actor = None


class AccountDisconnectedV1(EventData):
    """The disconnect is complete: final invoice issued (or not required) and address released."""

    account_id: PositiveInt
    disconnect_id: UUID
    source: DisconnectSource
    scheduled_event_id: UUID | None = None
    reason: str | None = None
    status_id: UUID
    disconnected_at: AwareDatetime
    final_invoice_id: UUID | None = None
    final_invoice_total: int | None = Field(default=None, description="Minor units")
    currency: Currency | None = None
    released_address_id: UUID | None = None


class AccountReactivatedV1(EventData):
    """A disconnected account is active again; a new activation was recorded."""

    account_id: PositiveInt
    account_status_id: UUID
    activated_at: AwareDatetime
    actor: Actor = None


class AccountArchivedV1(EventData):
    """An account was archived: nothing may be added to it; its pending scheduled events end."""

    account_id: PositiveInt
    archived_at: AwareDatetime
    actor: Actor = None


class AccountDisconnectAbandonedV1(EventData):
    """An operator ended a stalled disconnect without its missing steps: the account keeps the
    status it shows and may be reactivated, archived or disconnected again."""

    account_id: PositiveInt
    disconnect_id: UUID
    source: DisconnectSource
    scheduled_event_id: UUID | None = None
    status_id: UUID
    pending_steps: list[Literal["final_invoice", "address"]] = Field(
        description="The steps that had not answered when the disconnect was abandoned"
    )
    reason: str
    abandoned_by: str
    abandoned_at: AwareDatetime


class ScheduledEventOutcomeV1(EventData):
    """What accounts made of a due scheduled event: completed, or failed with the reason."""

    scheduled_event_id: UUID
    account_id: PositiveInt
    outcome: Literal["completed", "failed"]
    reason: str | None = None
    disconnect_id: UUID | None = None


# --- billing --------------------------------------------------------------------------------------


class FinalInvoice(EventData):
    id: UUID
    total: int = Field(description="Minor units; the sum of the invoice's lines")
    currency: Currency


class DisconnectBilledV1(EventData):
    """Billing's answer to a disconnect: the final invoice, or `not_required` when nothing was owed."""

    disconnect_id: UUID
    account_id: PositiveInt
    final_invoice_state: Literal["issued", "not_required"]
    final_invoice: FinalInvoice | None = None


# --- addresses ------------------------------------------------------------------------------------


class DisconnectAddressReleasedV1(EventData):
    """Addresses' answer to a disconnect: the serviceable address released, or `none` to release."""

    disconnect_id: UUID
    account_id: PositiveInt
    address_state: Literal["released", "none"]
    released_address_id: UUID | None = None


# --- scheduler ------------------------------------------------------------------------------------


class ScheduledEventDueV1(EventData):
    """A scheduled event reached its minimum start time (`run_at`, by the database clock)."""

    scheduled_event_id: UUID
    event_type: str
    account_id: PositiveInt
    run_at: AwareDatetime
    emitted_at: AwareDatetime
    payload: dict[str, Any] = Field(default_factory=dict)
    actor: str | None = Field(
        default=None,
        max_length=200,
        description="Who scheduled it (their token's name or sub); what it sets off is theirs",
    )


# --- every consumer -------------------------------------------------------------------------------


class DeadLetterV1(EventData):
    """A message a consumer could not process after its retries, kept with the reason.

    Bounded whatever the original: the key and value are cut (`original_truncated`), and the
    original's size and SHA-256 identify it; the whole original stays in the consuming service's
    database (`GET /dead-letters/{id}`), from which it can be redriven."""

    consumer_group: str
    original_topic: str
    original_partition: int
    original_offset: int
    original_key: str | None = None
    original_value: str = Field(
        description="The original bytes decoded as UTF-8 with replacement, cut to 16 KiB"
    )
    original_size: int | None = Field(default=None, description="The original value's bytes")
    original_sha256: str | None = None
    original_truncated: bool = False
    dead_letter_id: UUID | None = Field(
        default=None, description="The dead letter in the consuming service's /dead-letters"
    )
    error: str
    attempts: int
    failed_at: AwareDatetime
