"""Query objects: what a list of scheduled events asks for, in plain values, and the SQL it
becomes. The routes build them; only the repository turns them into statements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from cutover_kit.pagination import Listing
from cutover_scheduler.adapters.tables import scheduled_events

# The sorts the list accepts, by the name the API uses.
SCHEDULED_EVENTS = Listing(
    {"run_at": scheduled_events.c.run_at, "created_at": scheduled_events.c.created_at},
    default="run_at",
    id_column=scheduled_events.c.id,
)


@dataclass(frozen=True)
class EventFilter:
    account_id: int | None = None
    state: str | None = None
    event_type: str | None = None

    def conditions(self) -> list[Any]:
        table = scheduled_events.c
        return [
            column == value
            for column, value in (
                (table.account_id, self.account_id),
                (table.state, self.state),
                (table.event_type, self.event_type),
            )
            if value is not None
        ]
