"""Serviceable addresses and their normalisation."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import pycountry

from cutover_addresses.domain import errors

ABBREVIATIONS = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "court": "ct",
    "place": "pl",
    "square": "sq",
    "highway": "hwy",
    "parkway": "pkwy",
    "terrace": "ter",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
    "apartment": "apt",
    "suite": "ste",
    "floor": "fl",
    "building": "bldg",
}


# ISO 3166-1 alpha-2, the officially assigned codes, as the maintained pycountry package holds them.
COUNTRIES = frozenset(country.alpha_2 for country in pycountry.countries)


def normalise(*parts: str | None) -> str:
    """The comparison key of an address: case, spacing, punctuation and common abbreviations
    folded, so "12 Main Street." and "12  main st" are the same address."""
    words: list[str] = []
    for part in parts:
        for word in re.sub(r"[^\w\s]", " ", (part or "").lower()).split():
            words.append(ABBREVIATIONS.get(word, word))
        words.append("|")
    return " ".join(words)


def search_key(text: str) -> str:
    """A search text folded like addresses are, to match inside their normalised form."""
    return normalise(text).removesuffix(" |")


@dataclass(frozen=True)
class ServiceableAddress:
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

    def check_free(self) -> None:
        """An address serves one account at a time."""
        if self.account_id is not None:
            raise errors.AddressTaken(self.id, self.account_id)

    def check_held(self) -> None:
        """Only an address that serves an account can be released."""
        if self.account_id is None:
            raise errors.AddressFree(self.id)


def check_may_hold_address(account_id: int, *, disconnected: bool) -> None:
    """A disconnected account holds no serviceable address until it is reactivated."""
    if disconnected:
        raise errors.AccountDisconnected(account_id)


def check_holds_no_address(account_id: int, held_address_id: UUID | None) -> None:
    """An account is served at one address at a time."""
    if held_address_id is not None:
        raise errors.AccountHasAddress(account_id, held_address_id)
