"""The Activations & Disconnections report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from cutover_accounts.adapters.queries import ACTIVATION_SORTS, DISCONNECTION_SORTS
from cutover_accounts.entrypoints.http.common import (
    Search,
    UoW,
)
from cutover_accounts.entrypoints.schemas import (
    ActivationRow,
    ActivationsDisconnections,
    DisconnectionRow,
)
from cutover_accounts.service_layer import (
    report,
)
from cutover_kit.auth import requires
from cutover_kit.errors import Unprocessable
from cutover_kit.openapi import problems
from cutover_kit.pagination import Instant, sort_query

router = APIRouter()


@router.get(
    "/reports/activations-disconnections",
    dependencies=[requires("accounts:read")],
    tags=["reports"],
    summary="Activations & Disconnections in a period (default the last 12 months)",
    responses=problems(422),
)
async def activations_disconnections(
    uow: UoW,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
    activations_sort: Annotated[str, sort_query(ACTIVATION_SORTS)] = "-activated_at",
    activations_account_type_id: UUID | None = None,
    activations_q: Search = None,
    disconnections_sort: Annotated[
        str,
        sort_query(DISCONNECTION_SORTS),
    ] = "-disconnected_at",
    disconnections_account_type_id: UUID | None = None,
    disconnections_q: Search = None,
) -> ActivationsDisconnections:
    end = to or datetime.now(UTC)
    start = from_ or end - timedelta(days=365)
    if start >= end:
        raise Unprocessable("`from` must be before `to`.", start=start, end=end)
    activation_rows, disconnection_rows = await report.activations_and_disconnections(
        uow,
        start=start,
        end=end,
        activations_query=report.TableQuery(
            activations_sort, activations_account_type_id, activations_q
        ),
        disconnections_query=report.TableQuery(
            disconnections_sort, disconnections_account_type_id, disconnections_q
        ),
    )
    return ActivationsDisconnections(
        from_=start,
        to=end,
        activations=[ActivationRow(**row) for row in activation_rows],
        disconnections=[DisconnectionRow(**row) for row in disconnection_rows],
    )
