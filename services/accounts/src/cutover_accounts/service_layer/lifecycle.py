"""Reactivate and archive. Both lock the account's row, like a disconnect, so a
reactivation, an archive and a disconnect of one account are applied one after the other."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Account
from cutover_accounts.service_layer import changes as publish
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.events import AccountArchivedV1, AccountReactivatedV1
from cutover_contracts.topics import ACCOUNT_ARCHIVED, ACCOUNT_REACTIVATED
from cutover_kit import context
from cutover_kit.errors import AccountNotFound


async def _locked(repository: AccountsRepository, account_id: int) -> Account:
    account = await repository.get(account_id, for_update=True)
    if account is None:
        raise AccountNotFound(account_id)
    return account


async def reactivate(
    uow: AccountsUnitOfWork, account_id: int, *, account_status_id: UUID | None = None
) -> Account:
    """Back to an activating status (default Active), with a new activation. The released address
    is not re-attached."""
    async with uow:
        repository = uow.accounts
        account = await _locked(repository, account_id)
        target = (
            await repository.status(account_status_id)
            if account_status_id
            else await repository.status_named("Active")
        )
        if target is None:
            raise errors.UnknownAccountStatus(account_status_id)  # type: ignore[arg-type]
        account.check_can_reactivate(target, await repository.pending_disconnect_id(account_id))
        now, previous_status_id = datetime.now(UTC), account.account_status_id
        account = await repository.update_account(
            account_id, account_status_id=target.id, activated_at=now, disconnected_at=None
        )
        await repository.record_activation(account_id, now, "reactivated")
        await repository.record_history(
            account_id, "reactivated", "account reactivated", account_status_id=str(target.id)
        )
        await uow.publish(
            ACCOUNT_REACTIVATED,
            AccountReactivatedV1(
                account_id=account_id,
                account_status_id=target.id,
                activated_at=now,
                actor=context.actor.get(),
            ),
            account_id=account_id,
        )
        await publish.status_changed(
            uow,
            account_id,
            from_status_id=previous_status_id,
            to_status_id=target.id,
            cause="reactivate",
            activation=True,
            at=now,
        )
        await uow.commit()
        return account


async def archive(uow: AccountsUnitOfWork, account_id: int) -> Account:
    async with uow:
        repository = uow.accounts
        account = await _locked(repository, account_id)
        current = await repository.status(account.account_status_id)
        assert current is not None  # foreign key
        account.check_can_archive(current, await repository.pending_disconnect_id(account_id))
        now = datetime.now(UTC)
        account = await repository.update_account(account_id, archived_at=now)
        await repository.record_history(account_id, "archived", "account archived")
        await uow.publish(
            ACCOUNT_ARCHIVED,
            AccountArchivedV1(account_id=account_id, archived_at=now, actor=context.actor.get()),
            account_id=account_id,
        )
        await uow.commit()
        return account
