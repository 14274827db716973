"""The billing HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from cutover_billing.adapters.queries import DEBITS, INVOICES
from cutover_billing.entrypoints.schemas import (
    DebitCreate,
    DebitOut,
    InvoiceOut,
    UninvoicedOut,
)
from cutover_billing.service_layer import billing
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_kit.auth import requires
from cutover_kit.http import Directory, unit_of_work
from cutover_kit.idempotency import Idempotency
from cutover_kit.openapi import problems
from cutover_kit.pagination import Page, PageRequest

# The route dependency, typed with this service's repositories.
UoW = Annotated[BillingUnitOfWork, Depends(unit_of_work)]

router = APIRouter()

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]


@router.post(
    "/accounts/{account_id}/debits",
    dependencies=[requires("billing:write")],
    status_code=201,
    tags=["debits"],
    responses=problems(404, 409, 422),
)
async def post_debit(
    account_id: AccountId,
    body: DebitCreate,
    uow: UoW,
    directory: Directory,
    idempotency: Idempotency,
) -> DebitOut:
    async def post() -> DebitOut:
        debit = await billing.post_debit(
            uow,
            directory,
            account_id,
            amount=body.amount,
            currency=body.currency,
            description=body.description,
        )
        return DebitOut.of(debit)

    return await idempotency.run(uow, body, 201, post)


@router.get(
    "/accounts/{account_id}/debits",
    dependencies=[requires("billing:read")],
    tags=["debits"],
    responses=problems(422),
)
async def list_debits(
    account_id: AccountId,
    uow: UoW,
    page: Annotated[PageRequest, DEBITS.query],
    invoiced: Annotated[bool | None, Query(description="Only invoiced, or only uninvoiced")] = None,
) -> Page[DebitOut]:
    return Page.of(await billing.debits_of(uow, account_id, invoiced, page), DebitOut.of)


@router.post(
    "/accounts/{account_id}/invoices",
    dependencies=[requires("billing:write")],
    status_code=201,
    tags=["invoices"],
    summary="Invoice every uninvoiced debit now",
    responses=problems(404, 409),
)
async def invoice_now(
    account_id: AccountId, uow: UoW, directory: Directory, idempotency: Idempotency
) -> InvoiceOut:
    async def issue() -> InvoiceOut:
        return InvoiceOut.of(await billing.invoice_now(uow, directory, account_id))

    return await idempotency.run(uow, None, 201, issue)


@router.get(
    "/accounts/{account_id}/invoices",
    dependencies=[requires("billing:read")],
    tags=["invoices"],
    responses=problems(422),
)
async def list_invoices(
    account_id: AccountId, uow: UoW, page: Annotated[PageRequest, INVOICES.query]
) -> Page[InvoiceOut]:
    return Page.of(await billing.invoices_of(uow, account_id, page), InvoiceOut.of)


@router.get(
    "/invoices/{invoice_id}",
    dependencies=[requires("billing:read")],
    tags=["invoices"],
    responses=problems(404),
)
async def get_invoice(invoice_id: UUID, uow: UoW) -> InvoiceOut:
    return InvoiceOut.of(await billing.get_invoice(uow, invoice_id))


@router.get(
    "/accounts/{account_id}/uninvoiced",
    dependencies=[requires("billing:read")],
    tags=["debits"],
    responses=problems(422),
)
async def uninvoiced(account_id: AccountId, uow: UoW) -> UninvoicedOut:
    count, total, currency = await billing.uninvoiced_summary(uow, account_id)
    return UninvoicedOut(count=count, total=total, currency=currency or "USD")
