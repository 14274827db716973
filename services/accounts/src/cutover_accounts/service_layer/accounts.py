"""Creating, listing, reading and editing accounts, and their history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from cutover_accounts.adapters.queries import AccountFilter
from cutover_accounts.adapters.repository import AccountsRepository
from cutover_accounts.domain import errors
from cutover_accounts.domain.model import Account
from cutover_accounts.service_layer import changes as publish
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.events import AccountCreatedV1
from cutover_contracts.topics import ACCOUNT_CREATED
from cutover_kit import context
from cutover_kit.errors import AccountNotFound
from cutover_kit.pagination import PageRequest

UNSET: Any = object()


async def _check_parent(repository: AccountsRepository, parent_id: int) -> None:
    parent = await repository.get(parent_id)
    if parent is None:
        raise errors.UnknownParent(parent_id)
    if parent.is_archived:
        raise errors.ParentArchived(parent_id)


async def create_account(
    uow: AccountsUnitOfWork,
    *,
    name: str,
    account_type_id: UUID,
    account_status_id: UUID | None = None,
    parent_account_id: int | None = None,
    account_id: int | None = None,
) -> Account:
    async with uow:
        repository = uow.accounts
        if not await repository.type_exists(account_type_id):
            raise errors.UnknownAccountType(account_type_id)
        status = (
            await repository.status(account_status_id)
            if account_status_id
            else await repository.status_named("Active")
        )
        if status is None:
            raise errors.UnknownAccountStatus(account_status_id)  # type: ignore[arg-type]
        if parent_account_id is not None:
            await _check_parent(repository, parent_account_id)
        now = datetime.now(UTC)
        values = {
            "name": name,
            "account_type_id": account_type_id,
            "account_status_id": status.id,
            "parent_account_id": parent_account_id,
            "activated_at": now if status.activates_account else None,
            "created_at": now,
            "updated_at": now,
        }
        if account_id is not None:
            # The insert settles a race for one id: one create wins, the others are told it is taken.
            account = await repository.add_account(id=account_id, **values)
            if account is None:
                raise errors.AccountIdTaken(account_id)
        else:
            account = None
            while account is None:  # a caller may have chosen the sequence's next id already
                account = await repository.add_account(
                    id=await repository.next_account_id(), **values
                )
        await repository.record_history(
            account.id, "created", "account created", account_status_id=str(status.id)
        )
        if status.activates_account:
            await repository.record_activation(account.id, now, "created")
        await uow.publish(
            ACCOUNT_CREATED,
            AccountCreatedV1(
                account_id=account.id,
                name=account.name,
                account_type_id=account.account_type_id,
                account_status_id=account.account_status_id,
                parent_account_id=account.parent_account_id,
                created_at=account.created_at,
                activated_at=account.activated_at,
                actor=context.actor.get(),
            ),
            account_id=account.id,
        )
        await uow.commit()
        return account


async def get_account(uow: AccountsUnitOfWork, account_id: int) -> Account:
    async with uow:
        account = await uow.accounts.get(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        return account


async def list_accounts(
    uow: AccountsUnitOfWork, filters: AccountFilter, page: PageRequest
) -> tuple[list[Account], str | None]:
    if filters.updated_since is not None:
        # A catch-up reads changes in the order they were made, so its cursor follows them.
        page = page.by_default("updated_at")
    async with uow:
        return await uow.accounts.list_accounts(filters, page)


async def children(
    uow: AccountsUnitOfWork, account_id: int, page: PageRequest
) -> tuple[list[Account], str | None]:
    async with uow:
        if await uow.accounts.get(account_id) is None:
            raise AccountNotFound(account_id)
        filters = AccountFilter(parent_account_id=account_id, include_archived=True)
        return await uow.accounts.list_accounts(filters, page)


async def edit_account(
    uow: AccountsUnitOfWork,
    account_id: int,
    *,
    name: str = UNSET,
    account_type_id: UUID = UNSET,
    account_status_id: UUID = UNSET,
    parent_account_id: int | None = UNSET,
) -> Account:
    """PATCH: change what is given, under the rules; the same rules apply to a scheduled change."""
    async with uow:
        account = await apply_edit(
            uow,
            account_id,
            name=name,
            account_type_id=account_type_id,
            account_status_id=account_status_id,
            parent_account_id=parent_account_id,
        )
        await uow.commit()
        return account


async def apply_edit(
    uow: AccountsUnitOfWork,
    account_id: int,
    *,
    name: str = UNSET,
    account_type_id: UUID = UNSET,
    account_status_id: UUID = UNSET,
    parent_account_id: int | None = UNSET,
    scheduled_event_id: UUID | None = None,
) -> Account:
    """The edit inside an open unit of work; `scheduled_event_id` when a due scheduled
    `change_account_status` makes it (the history and the status event name it as the cause)."""
    repository = uow.accounts
    if parent_account_id is not UNSET and parent_account_id is not None:
        # Before the account's row lock: a change queued for the parent-links lock while holding
        # its row could deadlock with the holder, whose new link's foreign-key check may need
        # that row. Once held, the cycle check below reads every change committed before it.
        await repository.lock_parent_links()
    account = await repository.get(account_id, for_update=True)
    if account is None:
        raise AccountNotFound(account_id)
    account.check_editable()
    changes: dict[str, Any] = {}
    if name is not UNSET and name != account.name:
        changes["name"] = name
    if account_type_id is not UNSET and account_type_id != account.account_type_id:
        if not await repository.type_exists(account_type_id):
            raise errors.UnknownAccountType(account_type_id)
        changes["account_type_id"] = account_type_id
    if parent_account_id is not UNSET and parent_account_id != account.parent_account_id:
        if parent_account_id is not None:
            await _check_parent(repository, parent_account_id)
            if await repository.is_ancestor_or_self(account_id, of=parent_account_id):
                raise errors.ParentCycle(account_id, parent_account_id)
        changes["parent_account_id"] = parent_account_id
    activates = False
    if account_status_id is not UNSET and account_status_id != account.account_status_id:
        target = await repository.status(account_status_id)
        if target is None:
            raise errors.UnknownAccountStatus(account_status_id)
        current = await repository.status(account.account_status_id)
        assert current is not None  # foreign key
        activates = account.check_status_change(
            current, target, await repository.pending_disconnect_id(account_id)
        )
        changes["account_status_id"] = account_status_id
    if not changes:
        return account
    now = datetime.now(UTC)
    if activates:
        changes["activated_at"] = now
        await repository.record_activation(account_id, now, "activated")
    previous_status_id = account.account_status_id
    account = await repository.update_account(account_id, **changes)
    await repository.record_history(
        account_id,
        "activated" if activates else "edited",
        f"scheduled event {scheduled_event_id}" if scheduled_event_id else "edited",
        **{key: str(value) if value is not None else None for key, value in changes.items()},
    )
    if "account_status_id" in changes:
        await publish.status_changed(
            uow,
            account_id,
            from_status_id=previous_status_id,
            to_status_id=account.account_status_id,
            cause="scheduled" if scheduled_event_id else "edit",
            activation=activates,
            at=account.updated_at,
            scheduled_event_id=scheduled_event_id,
        )
    await publish.updated(uow, account, list(changes))
    return account


async def history(
    uow: AccountsUnitOfWork, account_id: int, page: PageRequest
) -> tuple[list[dict[str, Any]], str | None]:
    async with uow:
        repository = uow.accounts
        if await repository.get(account_id) is None:
            raise AccountNotFound(account_id)
        return await repository.history(account_id, page)
