"""The sorts addresses' lists accept, by the name the API uses, and the columns they order by."""

from __future__ import annotations

from cutover_addresses.adapters.tables import address_history, serviceable_addresses

ADDRESS_SORTS = {
    "created_at": serviceable_addresses.c.created_at,
    "city": serviceable_addresses.c.city,
    "zip": serviceable_addresses.c.zip,
}
HISTORY_SORTS = {"at": address_history.c.at, "id": address_history.c.id}
