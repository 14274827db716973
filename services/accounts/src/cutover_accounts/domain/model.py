"""Accounts and disconnects as plain data, with the rules that decide what may happen to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from cutover_accounts.domain import errors

DisconnectSource = Literal["manual", "scheduled"]
DisconnectStep = Literal["final_invoice", "address"]


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

    def check_editable(self) -> None:
        """Archived accounts cannot be edited."""
        if self.is_archived:
            raise errors.AccountArchived(self.id)

    def check_can_disconnect(
        self, pending_disconnect_id: UUID | None, *, last_disconnect_abandoned: bool = False
    ) -> None:
        """Disconnect: only an account that is neither archived nor disconnected can be disconnected;
        one whose last disconnect was abandoned may be disconnected again, to finish the job."""
        self.check_editable()
        if pending_disconnect_id is not None:
            raise errors.DisconnectInProgress(self.id, pending_disconnect_id)
        if self.is_disconnected and not last_disconnect_abandoned:
            raise errors.AlreadyDisconnected(self.id)

    def check_status_change(
        self, current: AccountStatus, target: AccountStatus, pending_disconnect_id: UUID | None
    ) -> bool:
        """Whether editing the status is allowed; returns True when it activates the account.

        Editing moves an account between statuses of the same kind. Leaving an activating status is
        a disconnect (final invoice, address release) and entering one after a disconnect is a
        reactivation, so both have their own action; a lead (never activated, not disconnected)
        becomes active by an edit, which records an activation.
        """
        self.check_editable()
        if target.id == current.id:
            return False
        if pending_disconnect_id is not None:
            raise errors.DisconnectInProgress(self.id, pending_disconnect_id)
        if current.activates_account and not target.activates_account:
            raise errors.UseDisconnect(self.id)
        if target.activates_account and not current.activates_account:
            if self.is_disconnected:
                raise errors.UseReactivate(self.id)
            return True
        return False

    def check_can_reactivate(
        self, target: AccountStatus, pending_disconnect_id: UUID | None
    ) -> None:
        """Reactivate: a disconnected, unarchived account goes back to an activating status."""
        self.check_editable()
        if pending_disconnect_id is not None:
            raise errors.DisconnectInProgress(self.id, pending_disconnect_id)
        if not self.is_disconnected:
            raise errors.NotDisconnected(self.id, "reactivated")
        if not target.activates_account:
            raise errors.ActivatingStatusRequired(target.id)

    def check_can_archive(self, current: AccountStatus, pending_disconnect_id: UUID | None) -> None:
        """Archive: only a disconnected account in a non-activating status is archived."""
        self.check_editable()
        if pending_disconnect_id is not None:
            raise errors.DisconnectInProgress(self.id, pending_disconnect_id)
        if not self.is_disconnected:
            raise errors.NotDisconnected(self.id, "archived")
        if current.activates_account:
            raise errors.ArchiveNeedsNonActivatingStatus(self.id)


@dataclass(frozen=True)
class Disconnect:
    id: UUID
    account_id: int
    source: DisconnectSource
    scheduled_event_id: UUID | None
    reason: str | None
    state: Literal["pending", "completed", "abandoned"]
    requested_at: datetime
    completed_at: datetime | None
    status_id: UUID
    final_invoice_state: Literal["pending", "issued", "not_required"]
    final_invoice_id: UUID | None
    final_invoice_total: int | None
    final_invoice_currency: str | None
    address_state: Literal["pending", "released", "none"]
    released_address_id: UUID | None
    deadline_at: datetime
    retries: int
    abandoned_at: datetime | None
    abandoned_by: str | None
    abandon_reason: str | None

    @property
    def all_steps_done(self) -> bool:
        """The disconnect completes when billing and addresses have both answered."""
        return not self.pending_steps

    @property
    def pending_steps(self) -> list[DisconnectStep]:
        steps: list[DisconnectStep] = []
        if self.final_invoice_state == "pending":
            steps.append("final_invoice")
        if self.address_state == "pending":
            steps.append("address")
        return steps

    def is_stalled(self, now: datetime) -> bool:
        """A pending disconnect whose steps have not all answered by its deadline (BRIEF §7)."""
        return self.state == "pending" and now >= self.deadline_at

    def check_pending(self) -> None:
        """Only a disconnect still pending (stalled or not) can be retried or abandoned."""
        if self.state != "pending":
            raise errors.DisconnectNotPending(self.id, self.state)
