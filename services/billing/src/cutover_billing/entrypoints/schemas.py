"""The billing HTTP API's bodies. Amounts are integers in minor units; floats and strings are 422."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cutover_billing.domain.model import Debit, Invoice


class DebitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: StrictInt = Field(gt=0, le=10**15, description="Minor units: 1999 is 19.99")
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
    description: str = Field(min_length=1, max_length=500)


class DebitOut(BaseModel):
    id: UUID
    account_id: int
    amount: int
    currency: str
    description: str
    created_at: datetime
    invoice_id: UUID | None

    @classmethod
    def of(cls, debit: Debit) -> DebitOut:
        return cls.model_validate(debit, from_attributes=True)


class LineOut(BaseModel):
    debit_id: UUID
    description: str
    amount: int


class InvoiceOut(BaseModel):
    id: UUID
    number: int
    account_id: int
    kind: Literal["regular", "final"]
    currency: str
    total: int
    lines: list[LineOut]
    issued_at: datetime
    disconnect_id: UUID | None

    @classmethod
    def of(cls, invoice: Invoice) -> InvoiceOut:
        return cls.model_validate(invoice, from_attributes=True)


class UninvoicedOut(BaseModel):
    count: int
    total: int
    currency: str
