"""Billing's rules on a fake unit of work: one currency per invoice, no empty invoice, an invoice's
total is the sum of its lines, an unknown invoice is a 404. Given / When / Then, in milliseconds."""

from __future__ import annotations

import uuid

import pytest

from cutover_billing.adapters.repository import BillingRepository
from cutover_billing.domain import errors
from cutover_billing.domain.model import check_currency, check_something_to_invoice
from cutover_billing.service_layer import billing
from tests.unit.fakes.billing import FakeBillingRepository, FakeBillingUnitOfWork
from tests.unit.fakes.known_accounts import NoDirectory

ACCOUNT = 7


@pytest.fixture
def uow() -> FakeBillingUnitOfWork:
    return FakeBillingUnitOfWork(ACCOUNT)


async def post(uow: FakeBillingUnitOfWork, amount: int, currency: str = "USD") -> None:
    await billing.post_debit(
        uow, NoDirectory(), ACCOUNT, amount=amount, currency=currency, description="router"
    )  # type: ignore[arg-type]


async def test_a_debit_in_another_currency_than_the_uninvoiced_ones_is_refused(
    uow: FakeBillingUnitOfWork,
) -> None:
    # Given an uninvoiced debit in USD
    await post(uow, 1999, "USD")
    # When a debit in EUR is posted
    # Then it is refused, naming both currencies, and not written
    with pytest.raises(errors.CurrencyMismatch) as refusal:
        await post(uow, 500, "EUR")
    assert refusal.value.extra == {
        "account_id": ACCOUNT,
        "account_currency": "USD",
        "currency": "EUR",
    }
    assert len(uow.billing.debits) == 1


async def test_once_invoiced_a_debit_may_come_in_another_currency(
    uow: FakeBillingUnitOfWork,
) -> None:
    await post(uow, 1999, "USD")
    await billing.invoice_now(uow, NoDirectory(), ACCOUNT)  # type: ignore[arg-type]
    await post(uow, 500, "EUR")
    assert {debit.currency for debit in uow.billing.debits.values()} == {"USD", "EUR"}


async def test_invoicing_with_nothing_uninvoiced_is_refused(uow: FakeBillingUnitOfWork) -> None:
    with pytest.raises(errors.NothingToInvoice):
        await billing.invoice_now(uow, NoDirectory(), ACCOUNT)  # type: ignore[arg-type]
    assert uow.billing.invoices == []


async def test_an_invoice_holds_every_uninvoiced_debit_and_totals_them(
    uow: FakeBillingUnitOfWork,
) -> None:
    # Given two uninvoiced debits
    await post(uow, 1999)
    await post(uow, 1)
    # When the account is invoiced
    invoice = await billing.invoice_now(uow, NoDirectory(), ACCOUNT)  # type: ignore[arg-type]
    # Then the invoice's total is the sum of its two lines and nothing is left uninvoiced
    assert invoice.total == sum(line.amount for line in invoice.lines) == 2000
    assert await uow.billing.uninvoiced(ACCOUNT) == []


async def test_reading_an_unknown_invoice_is_a_not_found() -> None:
    uow = FakeBillingUnitOfWork()
    uow.billing.invoice = _none  # type: ignore[method-assign]
    with pytest.raises(errors.InvoiceNotFound) as refusal:
        await billing.get_invoice(uow, uuid.UUID(int=1))  # type: ignore[arg-type]
    assert refusal.value.status == 404


async def _none(_: uuid.UUID) -> None:
    return None


def test_the_currency_rule_accepts_a_first_debit_in_any_currency() -> None:
    check_currency(ACCOUNT, [], "JPY")


def test_the_nothing_to_invoice_rule_refuses_an_empty_list() -> None:
    with pytest.raises(errors.NothingToInvoice):
        check_something_to_invoice(ACCOUNT, [])


def test_the_fake_repository_answers_like_the_real_one() -> None:
    fake = {name for name in vars(FakeBillingRepository) if not name.startswith("_")}
    assert fake <= set(dir(BillingRepository))
