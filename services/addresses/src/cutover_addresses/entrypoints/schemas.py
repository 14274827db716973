"""The addresses HTTP API's bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, field_validator

from cutover_addresses.domain.model import COUNTRIES, ServiceableAddress


class AddressCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    line1: str = Field(min_length=1, max_length=200)
    line2: str | None = Field(default=None, max_length=200)
    city: str = Field(min_length=1, max_length=100)
    subdivision: str = Field(min_length=1, max_length=100)
    zip: str = Field(min_length=1, max_length=20)
    country: str = Field(
        description="ISO 3166-1 alpha-2, e.g. US",
        json_schema_extra={"enum": sorted(COUNTRIES)},
    )
    # Strict: a number, as documented; `false` or `"45.5"` is refused, not read as a coordinate.
    latitude: StrictFloat | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    longitude: StrictFloat | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)

    @field_validator("country")
    @classmethod
    def known_country(cls, value: str) -> str:
        if value.upper() not in COUNTRIES:
            raise ValueError("not an ISO 3166-1 alpha-2 country code")
        return value.upper()


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


class HistoryEntry(BaseModel):
    id: int
    address_id: UUID
    account_id: int
    action: Literal["attach", "release"]
    reason: Literal["manual", "disconnect"]
    disconnect_id: UUID | None
    at: datetime


class AttachAccount(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: StrictInt = Field(gt=0, le=2**63 - 1)
