from __future__ import annotations

from uuid import UUID

from cutover_kit.errors import Conflict, NotFound, Unprocessable


class AccountNotFound(NotFound):
    code = "account-not-found"

    def __init__(self, account_id: int) -> None:
        super().__init__(f"Account {account_id} does not exist.", account_id=account_id)


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


class AccountArchived(Conflict):
    code = "account-archived"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is archived: archived accounts cannot be changed.",
            account_id=account_id,
        )


class DisconnectNotFound(NotFound):
    code = "disconnect-not-found"

    def __init__(self, disconnect_id: UUID) -> None:
        super().__init__(f"Disconnect {disconnect_id} does not exist.", disconnect_id=disconnect_id)
