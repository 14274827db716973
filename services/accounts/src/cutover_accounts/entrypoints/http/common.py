"""What the accounts routes share: the typed dependencies and parameters."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Path, Query, Request

from cutover_accounts.adapters.peers import Peers
from cutover_accounts.domain.model import Disconnect
from cutover_accounts.service_layer.disconnects import DisconnectOrder
from cutover_accounts.service_layer.unit_of_work import AccountsUnitOfWork
from cutover_kit.group_commit import GroupCommit
from cutover_kit.http import unit_of_work

# The route dependency, typed with this service's repositories.
UoW = Annotated[AccountsUnitOfWork, Depends(unit_of_work)]


# The dependencies are `async def` though they wait for nothing: FastAPI runs a plain `def`
# dependency in a worker thread, a thread hop on every request (about 4 % of accounts' samples
# under the disconnect bench, py-spy).
async def _step_timeout(request: Request) -> timedelta:
    seconds = request.app.state.runtime.settings.disconnect_step_timeout_seconds
    return timedelta(seconds=seconds)


async def _peers(request: Request) -> Peers:
    return request.app.state.runtime.resources["peers"]


async def _disconnect_starts(request: Request) -> GroupCommit[DisconnectOrder, Disconnect]:
    return request.app.state.runtime.resources["disconnect_starts"]


# How long a disconnect's steps have before it shows as stalled (CUTOVER_DISCONNECT_STEP_TIMEOUT_*).
StepTimeout = Annotated[timedelta, Depends(_step_timeout)]
# Billing, addresses and the scheduler, asked with accounts' own identity (the preview).
PeersOf = Annotated[Peers, Depends(_peers)]
# Disconnect requests that arrive together, started in one transaction.
DisconnectStarts = Annotated[GroupCommit[DisconnectOrder, Disconnect], Depends(_disconnect_starts)]

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]
OptionalAccountId = Annotated[int | None, Query(gt=0, le=2**63 - 1)]
Search = Annotated[str | None, Query(min_length=1, max_length=200, description="Name or id")]
