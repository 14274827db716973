"""Addresses' lists: the sorts each accepts, by the name the API uses, and the columns they order
by."""

from __future__ import annotations

from cutover_addresses.adapters.tables import address_history, serviceable_addresses
from cutover_kit.pagination import Listing

ADDRESSES = Listing(
    {
        "created_at": serviceable_addresses.c.created_at,
        "city": serviceable_addresses.c.city,
        "zip": serviceable_addresses.c.zip,
    },
    default="created_at",
    id_column=serviceable_addresses.c.id,
)
HISTORY = Listing(
    {"at": address_history.c.at, "id": address_history.c.id},
    default="id",
    id_column=address_history.c.id,
)
