"""The audit log: every write made through a service's HTTP API, with time, actor, action, resource
and request id, recorded in the same transaction as the write (`UnitOfWork.commit`), and read with
`GET /audit-log`.

A write is any POST, PUT, PATCH or DELETE that commits: a refused or failed request rolls back and
leaves no record, an Idempotency-Key replay writes nothing and records nothing. The action is the
route (`POST /accounts/{account_id}/disconnect`), the resource the path it was called on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel
from sqlalchemy import select

from cutover_kit import context
from cutover_kit.auth import requires
from cutover_kit.dependencies import RuntimeOf
from cutover_kit.errors import Unprocessable
from cutover_kit.openapi import problems
from cutover_kit.pagination import Instant, Listing, Page, PageRequest
from cutover_kit.tables import audit_log

WRITES = {"POST", "PUT", "PATCH", "DELETE"}


async def note_write(request: Request) -> None:
    """Before the route runs: name the write this request makes, for the commit to record."""
    if request.method in WRITES:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        context.audited_write.set((f"{request.method} {route}", request.url.path))


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    resource: str
    request_id: str | None


ENTRIES = Listing({"at": audit_log.c.at}, default="-at", id_column=audit_log.c.id, sortable=False)
router = APIRouter(tags=["audit"], dependencies=[requires("ops")])


@router.get(
    "/audit-log", summary="Every write made through this API, newest first", responses=problems(422)
)
async def read_audit_log(
    runtime: RuntimeOf,
    page: Annotated[PageRequest, ENTRIES.query],
    actor: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=300, description="e.g. POST /accounts")] = None,
    from_: Annotated[Instant | None, Query(alias="from")] = None,
    to: Instant | None = None,
) -> Page[AuditEntry]:
    if from_ is not None and to is not None and from_ >= to:
        raise Unprocessable("`from` must be before `to`.")
    query = select(audit_log)
    for column, value in ((audit_log.c.actor, actor), (audit_log.c.action, action)):
        if value is not None:
            query = query.where(column == value)
    if from_ is not None:
        query = query.where(audit_log.c.at >= from_)
    if to is not None:
        query = query.where(audit_log.c.at < to)
    async with runtime.database.unit_of_work() as uow:
        items, next_cursor = await page.fetch(uow.session, query, AuditEntry)
    return Page(items=items, next_cursor=next_cursor)
