"""Account statuses, account types and the settings (the Disconnect Account Status)."""

from __future__ import annotations

from fastapi import APIRouter

from cutover_accounts.entrypoints.http.common import (
    UoW,
)
from cutover_accounts.entrypoints.schemas import (
    SettingsBody,
    StatusCreate,
    StatusOut,
    TypeCreate,
    TypeOut,
)
from cutover_accounts.service_layer import (
    catalog,
)
from cutover_kit.auth import requires
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Page

router = APIRouter()


@router.get(
    "/account-statuses",
    dependencies=[requires("accounts:read")],
    tags=["catalog"],
    responses=problems(),
)
async def list_statuses(uow: UoW) -> Page[StatusOut]:
    items = await catalog.statuses(uow)
    return Page(items=[StatusOut(**vars(item)) for item in items])


@router.post(
    "/account-statuses",
    dependencies=[requires("accounts:write")],
    status_code=201,
    tags=["catalog"],
    responses=problems(409, 422),
)
async def create_status(body: StatusCreate, uow: UoW, idempotency: Idempotency) -> StatusOut:
    async def create() -> StatusOut:
        return StatusOut(**vars(await catalog.add_status(uow, body.name, body.activates_account)))

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/account-types",
    dependencies=[requires("accounts:read")],
    tags=["catalog"],
    responses=problems(),
)
async def list_types(uow: UoW) -> Page[TypeOut]:
    return Page(items=[TypeOut(**item) for item in await catalog.types(uow)])


@router.post(
    "/account-types",
    dependencies=[requires("accounts:write")],
    status_code=201,
    tags=["catalog"],
    responses=problems(409, 422),
)
async def create_type(body: TypeCreate, uow: UoW, idempotency: Idempotency) -> TypeOut:
    async def create() -> TypeOut:
        return TypeOut(**await catalog.add_type(uow, body.name))

    return await idempotency.run(uow, body, 201, create)


@router.get(
    "/settings", dependencies=[requires("accounts:read")], tags=["catalog"], responses=problems()
)
async def get_settings(uow: UoW) -> SettingsBody:
    return SettingsBody(disconnect_account_status_id=await catalog.disconnect_status_id(uow))


@router.put(
    "/settings",
    dependencies=[requires("settings:write")],
    tags=["catalog"],
    summary="Choose the Disconnect Account Status (a non-activating status)",
    responses=problems(422),
)
async def put_settings(body: SettingsBody, uow: UoW) -> SettingsBody:
    status_id = await catalog.set_disconnect_status(uow, body.disconnect_account_status_id)
    return SettingsBody(disconnect_account_status_id=status_id)
