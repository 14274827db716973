"""The addresses HTTP API's bodies."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from cutover_addresses.domain.model import ServiceableAddress


class AddressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    subdivision: str = Field(min_length=1, max_length=100)
    zip: str = Field(min_length=1, max_length=20)
    country: str = Field(pattern=r"^[A-Z]{2}$", description="ISO 3166-1 alpha-2")
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class AddressOut(BaseModel):
    id: UUID
    line1: str
    line2: str | None
    city: str
    subdivision: str
    zip: str
    country: str
    latitude: float | None
    longitude: float | None
    account_id: int | None
    created_at: datetime

    @classmethod
    def of(cls, address: ServiceableAddress) -> AddressOut:
        return cls.model_validate(address, from_attributes=True)


class AttachAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: StrictInt = Field(gt=0, le=2**63 - 1)
