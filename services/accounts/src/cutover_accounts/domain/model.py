"""Accounts and disconnects as plain data, with the rules that decide what may happen to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from cutover_accounts.domain import errors

DisconnectSource = Literal["manual", "scheduled"]


@dataclass(frozen=True)
class AccountStatus:
    id: UUID
    name: str
    activates_account: bool


@dataclass(frozen=True)
class Account:
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

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None

    @property
    def is_disconnected(self) -> bool:
        return self.disconnected_at is not None

    def check_can_disconnect(self, pending_disconnect_id: UUID | None) -> None:
        """Rule 2: only an account that is neither archived nor disconnected can be disconnected."""
        if self.is_archived:
            raise errors.AccountArchived(self.id)
        if pending_disconnect_id is not None:
            raise errors.DisconnectInProgress(self.id, pending_disconnect_id)
        if self.is_disconnected:
            raise errors.AlreadyDisconnected(self.id)


@dataclass(frozen=True)
class Disconnect:
    id: UUID
    account_id: int
    source: DisconnectSource
    scheduled_event_id: UUID | None
    reason: str | None
    state: Literal["pending", "completed"]
    requested_at: datetime
    completed_at: datetime | None
    status_id: UUID
    final_invoice_state: Literal["pending", "issued", "not_required"]
    final_invoice_id: UUID | None
    final_invoice_total: int | None
    final_invoice_currency: str | None
    address_state: Literal["pending", "released", "none"]
    released_address_id: UUID | None

    @property
    def all_steps_done(self) -> bool:
        """The disconnect completes when billing and addresses have both answered."""
        return self.final_invoice_state != "pending" and self.address_state != "pending"
