from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Account
from cutover_contracts.events import AccountCreatedV1
from cutover_contracts.topics import ACCOUNT_CREATED
from cutover_kit.db import UnitOfWork


async def create_account(
    uow: UnitOfWork,
    *,
    name: str,
    account_type_id: UUID,
    account_status_id: UUID | None = None,
    parent_account_id: int | None = None,
    account_id: int | None = None,
) -> Account:
    async with uow:
        repository = AccountsRepository(uow.session)
        if not await repository.type_exists(account_type_id):
            raise errors.UnknownAccountType(account_type_id)
        status = (
            await repository.status(account_status_id)
            if account_status_id
            else await repository.status_named("Active")
        )
        if status is None:
            raise errors.UnknownAccountStatus(account_status_id)  # type: ignore[arg-type]
        if parent_account_id is not None and await repository.get(parent_account_id) is None:
            raise errors.AccountNotFound(parent_account_id)
        if account_id is None:
            account_id = await repository.next_free_account_id()
        elif await repository.account_id_taken(account_id):
            raise errors.AccountIdTaken(account_id)
        now = datetime.now(UTC)
        account = await repository.add_account(
            id=account_id,
            name=name,
            account_type_id=account_type_id,
            account_status_id=status.id,
            parent_account_id=parent_account_id,
            activated_at=now if status.activates_account else None,
            created_at=now,
            updated_at=now,
        )
        await repository.record_history(
            account.id, "created", "account created", account_status_id=str(status.id)
        )
        await uow.publish(
            ACCOUNT_CREATED,
            AccountCreatedV1(
                account_id=account.id,
                name=account.name,
                account_type_id=account.account_type_id,
                account_status_id=account.account_status_id,
                parent_account_id=account.parent_account_id,
                created_at=account.created_at,
            ),
            account_id=account.id,
        )
        await uow.commit()
        return account


async def get_account(uow: UnitOfWork, account_id: int) -> Account:
    async with uow:
        account = await AccountsRepository(uow.session).get(account_id)
        if account is None:
            raise errors.AccountNotFound(account_id)
        return account
