"""The billing HTTP API. Routes translate HTTP to use cases and back; no rule lives here."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query

from cutover_billing.entrypoints.schemas import (
    DebitCreate,
    DebitList,
    DebitOut,
    InvoiceList,
    InvoiceOut,
    UninvoicedOut,
)
from cutover_billing.service_layer import billing
from cutover_kit.errors import NotFound
from cutover_kit.http import Directory, UoW
from cutover_kit.idempotency import IdempotencyKey, idempotent
from cutover_kit.openapi import problems

router = APIRouter()

AccountId = Annotated[int, Path(gt=0, le=2**63 - 1, description="The account id")]


class InvoiceNotFound(NotFound):
    code = "invoice-not-found"


@router.post(
    "/accounts/{account_id}/debits", status_code=201, tags=["debits"], responses=problems(404, 422)
)
async def post_debit(
    account_id: AccountId, body: DebitCreate, uow: UoW, directory: Directory
) -> DebitOut:
    debit = await billing.post_debit(
        uow,
        directory,
        account_id,
        amount=body.amount,
        currency=body.currency,
        description=body.description,
    )
    return DebitOut.of(debit)


@router.get("/accounts/{account_id}/debits", tags=["debits"], responses=problems(422))
async def list_debits(
    account_id: AccountId, uow: UoW, invoiced: Annotated[bool | None, Query()] = None
) -> DebitList:
    items = await billing.debits_of(uow, account_id, invoiced)
    return DebitList(items=[DebitOut.of(item) for item in items])


@router.post(
    "/accounts/{account_id}/invoices",
    status_code=201,
    tags=["invoices"],
    summary="Invoice every uninvoiced debit now",
    responses=problems(404, 409),
)
async def invoice_now(
    account_id: AccountId, uow: UoW, directory: Directory, key: IdempotencyKey = None
) -> InvoiceOut:
    async def issue() -> InvoiceOut:
        return InvoiceOut.of(await billing.invoice_now(uow, directory, account_id))

    return await idempotent(
        uow,
        key,
        scope=f"POST /accounts/{account_id}/invoices",
        request_body=None,
        status_code=201,
        action=issue,
    )


@router.get("/accounts/{account_id}/invoices", tags=["invoices"], responses=problems(422))
async def list_invoices(account_id: AccountId, uow: UoW) -> InvoiceList:
    items = await billing.invoices_of(uow, account_id)
    return InvoiceList(items=[InvoiceOut.of(item) for item in items])


@router.get("/invoices/{invoice_id}", tags=["invoices"], responses=problems(404))
async def get_invoice(invoice_id: UUID, uow: UoW) -> InvoiceOut:
    invoice = await billing.get_invoice(uow, invoice_id)
    if invoice is None:
        raise InvoiceNotFound(f"Invoice {invoice_id} does not exist.", invoice_id=invoice_id)
    return InvoiceOut.of(invoice)


@router.get("/accounts/{account_id}/uninvoiced", tags=["debits"], responses=problems(422))
async def uninvoiced(account_id: AccountId, uow: UoW) -> UninvoicedOut:
    count, total, currency = await billing.uninvoiced_summary(uow, account_id)
    return UninvoicedOut(count=count, total=total, currency=currency or "USD")
