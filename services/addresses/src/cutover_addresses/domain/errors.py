from __future__ import annotations

from uuid import UUID

from cutover_kit.errors import Conflict, DoesNotExist, NotFound


class AddressNotFound(DoesNotExist):
    code = "serviceable-address-not-found"
    subject = "Serviceable address"
    id_member = "address_id"


class DuplicateAddress(Conflict):
    code = "duplicate-serviceable-address"

    def __init__(self, existing_id: UUID) -> None:
        super().__init__(
            f"This address already exists as serviceable address {existing_id}.",
            existing_address_id=existing_id,
        )


class AddressTaken(Conflict):
    code = "serviceable-address-taken"

    def __init__(self, address_id: UUID, holder_account_id: int) -> None:
        super().__init__(
            f"Serviceable address {address_id} already serves account {holder_account_id}.",
            address_id=address_id,
            holder_account_id=holder_account_id,
        )


class AccountHasAddress(Conflict):
    code = "account-has-serviceable-address"

    def __init__(self, account_id: int, address_id: UUID) -> None:
        super().__init__(
            f"Account {account_id} already has serviceable address {address_id}.",
            account_id=account_id,
            address_id=address_id,
        )


class AccountHasNoAddress(NotFound):
    code = "account-has-no-serviceable-address"

    def __init__(self, account_id: int) -> None:
        super().__init__(f"Account {account_id} has no serviceable address.", account_id=account_id)


class AddressFree(Conflict):
    code = "serviceable-address-free"

    def __init__(self, address_id: UUID) -> None:
        super().__init__(
            f"Serviceable address {address_id} serves no account: there is nothing to release.",
            address_id=address_id,
        )


class AccountDisconnected(Conflict):
    code = "account-disconnected"

    def __init__(self, account_id: int) -> None:
        super().__init__(
            f"Account {account_id} is disconnected: a disconnected account holds no serviceable"
            " address. Reactivate it first.",
            account_id=account_id,
        )
