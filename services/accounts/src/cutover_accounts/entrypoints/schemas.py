"""The accounts HTTP API's request and response bodies (the public contract, in OpenAPI)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from cutover_accounts.domain.model import Account, Disconnect


class Strict(BaseModel):
    """Unknown fields are refused, not silently dropped: a typo is a 422, not a lost value."""

    model_config = ConfigDict(extra="forbid")


class StatusCreate(Strict):
    name: str = Field(min_length=1, max_length=100)
    activates_account: StrictBool  # true or false as documented, not "yes" or 1


class StatusOut(BaseModel):
    id: UUID
    name: str
    activates_account: bool


class TypeCreate(Strict):
    name: str = Field(min_length=1, max_length=100)


class TypeOut(BaseModel):
    id: UUID
    name: str


class SettingsBody(Strict):
    disconnect_account_status_id: UUID


class AccountCreate(Strict):
    # Ids are JSON integers, as documented: `true` or "5" is refused, not read as 1 or 5.
    id: StrictInt | None = Field(default=None, gt=0, le=2**63 - 1, description="Caller-chosen id")
    name: str = Field(min_length=1, max_length=200)
    account_type_id: UUID
    account_status_id: UUID | None = Field(default=None, description="Default: Active")
    parent_account_id: StrictInt | None = Field(default=None, gt=0, le=2**63 - 1)


class AccountOut(BaseModel):
    id: int
    name: str
    account_type_id: UUID
    account_status_id: UUID
    parent_account_id: int | None
    activated_at: datetime | None
    disconnected_at: datetime | None
    archived_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, account: Account) -> AccountOut:
        return cls.model_validate(account, from_attributes=True)


class AccountPatch(Strict):
    """Only the fields given change; `parent_account_id: null` removes the parent."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    account_type_id: UUID | None = None
    account_status_id: UUID | None = None
    parent_account_id: StrictInt | None = Field(default=None, gt=0, le=2**63 - 1)


class ReactivateBody(Strict):
    account_status_id: UUID | None = Field(default=None, description="Default: Active")


class HistoryEntry(BaseModel):
    id: int
    at: datetime
    change: str
    actor: str
    cause: str
    correlation_id: str | None
    details: dict[str, Any]


class DisconnectCreate(Strict):
    reason: str | None = Field(default=None, max_length=1000)


class FinalInvoiceOut(BaseModel):
    id: UUID
    total: int
    currency: str


class DisconnectAbandon(Strict):
    reason: str = Field(min_length=1, max_length=1000, description="Why it is abandoned")


class DisconnectOut(BaseModel):
    id: UUID
    account_id: int
    source: Literal["manual", "scheduled"]
    scheduled_event_id: UUID | None
    reason: str | None
    state: Literal["pending", "stalled", "completed", "abandoned"] = Field(
        description="stalled: pending past its deadline, with `stalled_steps` not answered"
    )
    requested_at: datetime
    completed_at: datetime | None
    status_id: UUID
    final_invoice: FinalInvoiceOut | None
    final_invoice_state: Literal["pending", "issued", "not_required"]
    address_state: Literal["pending", "released", "none"]
    released_address_id: UUID | None
    deadline_at: datetime = Field(description="When a step not answered by then stalls it")
    stalled_steps: list[Literal["final_invoice", "address"]]
    retries: int
    abandoned_at: datetime | None
    abandoned_by: str | None
    abandon_reason: str | None

    @classmethod
    def of(cls, disconnect: Disconnect) -> Self:
        stalled = disconnect.is_stalled(datetime.now(UTC))
        invoice = (
            FinalInvoiceOut(
                id=disconnect.final_invoice_id,
                total=disconnect.final_invoice_total or 0,
                currency=disconnect.final_invoice_currency or "",
            )
            if disconnect.final_invoice_id
            else None
        )
        return cls(
            id=disconnect.id,
            account_id=disconnect.account_id,
            source=disconnect.source,
            scheduled_event_id=disconnect.scheduled_event_id,
            reason=disconnect.reason,
            state="stalled" if stalled else disconnect.state,
            requested_at=disconnect.requested_at,
            completed_at=disconnect.completed_at,
            status_id=disconnect.status_id,
            final_invoice=invoice,
            final_invoice_state=disconnect.final_invoice_state,
            address_state=disconnect.address_state,
            released_address_id=disconnect.released_address_id,
            deadline_at=disconnect.deadline_at,
            stalled_steps=disconnect.pending_steps if stalled else [],
            retries=disconnect.retries,
            abandoned_at=disconnect.abandoned_at,
            abandoned_by=disconnect.abandoned_by,
            abandon_reason=disconnect.abandon_reason,
        )


class DisconnectStarted(DisconnectOut):
    """A disconnect just requested, and what it does to the rest of the account's plans."""

    pending_scheduled_disconnects: Literal["cancelled"] = Field(
        default="cancelled",
        description=(
            "The account's pending scheduled disconnects are cancelled by the scheduler with this "
            "disconnect as the cause: their outcome reads `cancelled: superseded by ... disconnect "
            "<id>` (GET /scheduled-events?account_id=). Other pending events stay pending."
        ),
    )


class UninvoicedSummary(BaseModel):
    count: int
    total: int
    currency: str


class PreviewOut(BaseModel):
    """What an operator confirms before disconnecting. A part is null and named in `unavailable`
    when the service that knows it did not answer."""

    account: AccountOut
    can_disconnect: bool
    refusal: str | None = Field(description="Why the account cannot be disconnected now")
    disconnect_status: StatusOut
    uninvoiced_debits: UninvoicedSummary | None
    serviceable_address: dict[str, Any] | None = Field(description="The address to be released")
    children_staying_active: list[AccountOut] = Field(
        description="Children that are active (not disconnected, not archived), the first 500"
    )
    children_staying_active_count: int = Field(description="All of them, however many")
    pending_scheduled_events: list[dict[str, Any]] | None
    unavailable: dict[str, str]
    warnings: list[str]


class ActivationRow(BaseModel):
    account_id: int
    account_name: str
    account_type_id: UUID
    account_status_id: UUID
    activated_at: datetime


class DisconnectionRow(BaseModel):
    account_id: int
    account_name: str
    account_type_id: UUID
    account_status_id: UUID
    disconnected_at: datetime
    source: Literal["manual", "scheduled"]
    reason: str | None
    final_invoice_total: int | None = Field(description="Minor units of final_invoice_currency")
    final_invoice_currency: str | None


class ActivationsDisconnections(BaseModel):
    """A page of each table; a table's next page is asked for with its own cursor."""

    from_: datetime = Field(alias="from")
    to: datetime
    activations: list[ActivationRow]
    activations_limit: int
    activations_next_cursor: str | None = Field(
        description="`activations_cursor` for the next page; null when this is the last"
    )
    disconnections: list[DisconnectionRow]
    disconnections_limit: int
    disconnections_next_cursor: str | None = Field(
        description="`disconnections_cursor` for the next page; null when this is the last"
    )

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)
