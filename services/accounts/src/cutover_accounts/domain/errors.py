from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cutover_kit.errors import Conflict, DoesNotExist, DomainError, Unprocessable


class AccountIdTaken(Conflict):
    code = "account-id-taken"

    def __init__(self, account_id: int) -> None:
        super().__init__(f"Account id {account_id} is already in use.", account_id=account_id)


class UnknownAccountStatus(Unprocessable):
    code = "unknown-account-status"

    def __init__(self, status_id: UUID) -> None:
        super().__init__(f"Account status {status_id} does not exist.", account_status_id=status_id)


class UnknownAccountType(Unprocessable):
    code = "unknown-account-type"

    def __init__(self, type_id: UUID) -> None:
        super().__init__(f"Account type {type_id} does not exist.", account_type_id=type_id)


class AlreadyDisconnected(Conflict):
    code = "account-already-disconnected"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is already disconnected; reactivate it first.",
            account_id=account_id,
        )


class DisconnectInProgress(Conflict):
    code = "disconnect-in-progress"

    def __init__(self, account_id: int, disconnect_id: UUID) -> None:
        super().__init__(
            f"Account {account_id} has a disconnect in progress ({disconnect_id}).",
            account_id=account_id,
            disconnect_id=disconnect_id,
        )


class DisconnectNotPending(Conflict):
    code = "disconnect-not-pending"

    def __init__(self, disconnect_id: UUID, state: str) -> None:
        super().__init__(
            f"Disconnect {disconnect_id} is {state}: only a pending or stalled one can be retried"
            " or abandoned.",
            disconnect_id=disconnect_id,
            state=state,
        )


class AccountArchived(Conflict):
    code = "account-archived"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is archived: archived accounts cannot be changed.",
            account_id=account_id,
        )


class DisconnectNotFound(DoesNotExist):
    code = "disconnect-not-found"
    subject = "Disconnect"
    id_member = "disconnect_id"


class AccountTypeNameTaken(Conflict):
    code = "account-type-name-taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"An account type named {name!r} exists already.", name=name)


class AccountStatusNameTaken(Conflict):
    code = "account-status-name-taken"

    def __init__(self, name: str) -> None:
        super().__init__(f"An account status named {name!r} exists already.", name=name)


class ActivatingDisconnectStatus(Unprocessable):
    code = "disconnect-status-must-not-activate"

    def __init__(self, status_id: UUID) -> None:
        super().__init__(
            "The Disconnect Account Status must be a status that does not activate the account.",
            account_status_id=status_id,
        )


class ParentArchived(Unprocessable):
    code = "parent-account-archived"

    def __init__(self, parent_id: int) -> None:
        super().__init__(
            f"Account {parent_id} is archived and cannot become a parent.",
            parent_account_id=parent_id,
        )


class UnknownParent(Unprocessable):
    code = "unknown-parent-account"

    def __init__(self, parent_id: int) -> None:
        super().__init__(f"Parent account {parent_id} does not exist.", parent_account_id=parent_id)


class ParentCycle(Unprocessable):
    code = "parent-account-cycle"

    def __init__(self, account_id: int, parent_id: int) -> None:
        super().__init__(
            f"Account {parent_id} cannot be the parent of account {account_id}: "
            f"{account_id} is {parent_id} itself or one of its ancestors.",
            account_id=account_id,
            parent_account_id=parent_id,
        )


class UseDisconnect(Conflict):
    code = "use-disconnect"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is active; moving it to a non-activating status is a disconnect "
            f"(final invoice, address release): POST /accounts/{account_id}/disconnect.",
            account_id=account_id,
        )


class UseReactivate(Conflict):
    code = "use-reactivate"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is disconnected; moving it to an activating status is a "
            f"reactivation: POST /accounts/{account_id}/reactivate.",
            account_id=account_id,
        )


class NotDisconnected(Conflict):
    code = "account-not-disconnected"

    def __init__(self, account_id: int, action: str) -> None:
        super().__init__(
            f"Account {account_id} is not disconnected; only a disconnected account can be "
            f"{action}.",
            account_id=account_id,
        )


class ActivatingStatusRequired(Unprocessable):
    code = "activating-status-required"

    def __init__(self, status_id: UUID) -> None:
        super().__init__(
            "A reactivated account moves to a status that activates it.",
            account_status_id=status_id,
        )


class ArchiveNeedsNonActivatingStatus(Conflict):
    code = "archive-needs-non-activating-status"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is in a status that activates it; only a disconnected account "
            "in a non-activating status can be archived.",
            account_id=account_id,
        )


class AccountsAreNeverDeleted(DomainError):
    status = 405
    code = "accounts-are-never-deleted"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Accounts are never deleted, so their history stays. To stop service, disconnect the "
            f"account (POST /accounts/{account_id}/disconnect); to hide a disconnected account "
            f"from everyday lists, archive it (POST /accounts/{account_id}/archive).",
            account_id=account_id,
        )


class ReportPeriodEmpty(Unprocessable):
    code = "report-period-empty"

    def __init__(self, start: datetime, end: datetime) -> None:
        super().__init__(
            "`from` must be before `to`.", start=start.isoformat(), end=end.isoformat()
        )


class ReportTableRequired(Unprocessable):
    code = "report-table-required"

    def __init__(self) -> None:
        super().__init__(
            "A CSV export is one table: add `table=activations` or `table=disconnections`."
        )
