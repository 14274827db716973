"""Account statuses, account types and the settings: the lists operators extend."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from cutover_accounts.domain import errors
from cutover_accounts.domain.model import AccountStatus
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork


async def statuses(uow: AccountsUnitOfWork) -> list[AccountStatus]:
    async with uow:
        return await uow.accounts.statuses()


async def add_status(uow: AccountsUnitOfWork, name: str, activates_account: bool) -> AccountStatus:
    async with uow:
        status = await uow.accounts.add_status(name, activates_account)
        if status is None:
            raise errors.AccountStatusNameTaken(name)
        await uow.commit()
        return status


async def types(uow: AccountsUnitOfWork) -> list[dict[str, Any]]:
    async with uow:
        return await uow.accounts.types()


async def add_type(uow: AccountsUnitOfWork, name: str) -> dict[str, Any]:
    async with uow:
        account_type = await uow.accounts.add_type(name)
        if account_type is None:
            raise errors.AccountTypeNameTaken(name)
        await uow.commit()
        return account_type


async def disconnect_status_id(uow: AccountsUnitOfWork) -> UUID:
    async with uow:
        return await uow.accounts.disconnect_status_id()


async def set_disconnect_status(uow: AccountsUnitOfWork, status_id: UUID) -> UUID:
    """The Disconnect Account Status: any status that does not activate the account."""
    async with uow:
        repository = uow.accounts
        status = await repository.status(status_id)
        if status is None:
            raise errors.UnknownAccountStatus(status_id)
        if status.activates_account:
            raise errors.ActivatingDisconnectStatus(status_id)
        await repository.set_disconnect_status(status_id)
        await uow.commit()
        return status_id
