"""The public events of an account's change, written to the outbox in the change's transaction.

Every status change publishes `AccountStatusChanged` whatever caused it, and every other edit
`AccountUpdated`, so a consumer that follows the topics sees each change once, in order per account.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from cutover_accounts.domain.model import Account
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.events import AccountStatusChangedV1, AccountUpdatedV1, StatusChangeCause
from cutover_contracts.topics import ACCOUNT_STATUS_CHANGED, ACCOUNT_UPDATED
from cutover_kit import context

UPDATED_FIELDS = ("name", "account_type_id", "parent_account_id")


async def status_changed(
    uow: AccountsUnitOfWork,
    account_id: int,
    *,
    from_status_id: UUID,
    to_status_id: UUID,
    cause: StatusChangeCause,
    activation: bool,
    at: datetime,
    disconnect_id: UUID | None = None,
    scheduled_event_id: UUID | None = None,
) -> None:
    if from_status_id == to_status_id:
        return  # e.g. disconnected again after an abandoned disconnect: no change to announce
    await uow.publish(
        ACCOUNT_STATUS_CHANGED,
        AccountStatusChangedV1(
            account_id=account_id,
            from_status_id=from_status_id,
            to_status_id=to_status_id,
            cause=cause,
            activation=activation,
            actor=context.actor.get(),
            changed_at=at,
            correlation_id=context.correlation_id.get(),
            disconnect_id=disconnect_id,
            scheduled_event_id=scheduled_event_id,
        ),
        account_id=account_id,
    )


async def updated(uow: AccountsUnitOfWork, account: Account, changed: list[str]) -> None:
    """`account` after the edit; `changed` the fields of it the edit changed (status aside)."""
    fields = [field for field in UPDATED_FIELDS if field in changed]
    if not fields:
        return
    await uow.publish(
        ACCOUNT_UPDATED,
        AccountUpdatedV1(
            account_id=account.id,
            name=account.name,
            account_type_id=account.account_type_id,
            parent_account_id=account.parent_account_id,
            changed=fields,  # type: ignore[arg-type]
            actor=context.actor.get(),
            updated_at=account.updated_at,
        ),
        account_id=account.id,
    )
