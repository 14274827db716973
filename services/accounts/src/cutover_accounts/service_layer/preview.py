"""The confirmation details an operator reads before disconnecting (the disconnect preview)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from cutover_accounts.adapters.peers import Peers
from cutover_accounts.adapters.queries import ACCOUNTS, AccountFilter
from cutover_accounts.domain.model import Account, AccountStatus
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_contracts.scheduled import DISCONNECT_ACCOUNT
from cutover_kit.errors import AccountNotFound, DomainError, PeerUnavailable

CHILDREN_SHOWN = 500


@dataclass
class Preview:
    account: Account
    disconnect_status: AccountStatus
    can_disconnect: bool
    refusal: str | None
    children_staying_active: list[Account]
    children_staying_active_count: int
    uninvoiced: dict[str, Any] | None = None
    serviceable_address: dict[str, Any] | None = None
    pending_scheduled_events: list[dict[str, Any]] | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


async def disconnect_preview(uow: AccountsUnitOfWork, peers: Peers, account_id: int) -> Preview:
    async with uow:
        repository = uow.accounts
        account = await repository.get(account_id)
        if account is None:
            raise AccountNotFound(account_id)
        status = await repository.status(await repository.disconnect_status_id())
        assert status is not None  # foreign key
        refusal = None
        try:
            account.check_can_disconnect(await repository.pending_disconnect_id(account_id))
        except DomainError as error:
            refusal = error.detail
        # Only the children that are active stay active: disconnected or archived ones are not.
        active_children = AccountFilter(parent_account_id=account_id, active_only=True)
        children, more = await repository.list_accounts(
            active_children, ACCOUNTS.first(CHILDREN_SHOWN)
        )
        children_count = await repository.count_accounts(active_children) if more else len(children)
    preview = Preview(
        account=account,
        disconnect_status=status,
        can_disconnect=refusal is None,
        refusal=refusal,
        children_staying_active=children,
        children_staying_active_count=children_count,
    )
    uninvoiced, address, scheduled = await asyncio.gather(
        peers.uninvoiced(account_id),
        peers.serviceable_address(account_id),
        peers.pending_scheduled_events(account_id),
        return_exceptions=True,
    )
    for peer, answer, attribute in (
        ("billing", uninvoiced, "uninvoiced"),
        ("addresses", address, "serviceable_address"),
        ("scheduler", scheduled, "pending_scheduled_events"),
    ):
        if isinstance(answer, PeerUnavailable):
            preview.unavailable[peer] = str(answer)
        elif isinstance(answer, BaseException):
            raise answer
        else:
            setattr(preview, attribute, answer)
    if children_count:
        preview.warnings.append(
            f"{children_count} child account(s) stay active: disconnecting a parent applies to "
            "the parent only."
        )
    superseded = [
        event
        for event in preview.pending_scheduled_events or []
        if event.get("event_type") == DISCONNECT_ACCOUNT
    ]
    if superseded and refusal is None:
        preview.warnings.append(
            f"{len(superseded)} pending scheduled disconnect(s) will be cancelled: this disconnect "
            "supersedes them, and their outcome names it."
        )
    for peer in preview.unavailable:
        preview.warnings.append(f"{peer} did not answer: its part of this preview is missing.")
    return preview
