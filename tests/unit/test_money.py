"""Money is integers in minor units: a property test over random debit sets."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from cutover_billing.domain.model import Debit, Invoice, invoice_lines
from cutover_billing.entrypoints.schemas import InvoiceOut

amounts = st.lists(st.integers(min_value=1, max_value=10**15), min_size=1, max_size=200)
NOW = datetime.now(UTC)


def debits_of(values: list[int]) -> list[Debit]:
    return [
        Debit(uuid.uuid4(), 1, amount, "USD", f"debit {n}", NOW, None)
        for n, amount in enumerate(values)
    ]


@given(amounts)
def test_an_invoice_total_is_exactly_the_sum_of_its_lines(values: list[int]) -> None:
    lines, total = invoice_lines(debits_of(values))
    assert total == sum(values)
    assert sum(line.amount for line in lines) == total
    assert [line.amount for line in lines] == values
    assert all(type(line.amount) is int for line in lines) and type(total) is int


@given(amounts)
def test_the_api_never_shows_money_as_a_float(values: list[int]) -> None:
    lines, total = invoice_lines(debits_of(values))
    invoice = Invoice(uuid.uuid4(), 1, 1, "final", "USD", total, NOW, uuid.uuid4(), lines)
    document = json.loads(InvoiceOut.of(invoice).model_dump_json())
    assert type(document["total"]) is int
    assert all(type(line["amount"]) is int for line in document["lines"])
    assert document["total"] == sum(line["amount"] for line in document["lines"])
