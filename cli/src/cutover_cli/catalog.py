"""Account statuses and types by name: operators type "Inactive", the API wants its id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import typer

from cutover_cli.client import Api


@dataclass(frozen=True)
class Catalog:
    statuses: dict[str, str]
    types: dict[str, str]

    @classmethod
    def load(cls, api: Api) -> Catalog:
        def names(path: str) -> dict[str, str]:
            return {item["id"]: item["name"] for item in api.get("accounts", path)["items"]}

        return cls(names("/account-statuses"), names("/account-types"))

    def status(self, status_id: str | None) -> str:
        return self.statuses.get(status_id or "", status_id or "")

    def type(self, type_id: str | None) -> str:
        return self.types.get(type_id or "", type_id or "")

    def status_id(self, value: str | None, option: str = "--status") -> str | None:
        return _resolve(self.statuses, value, option)

    def type_id(self, value: str | None, option: str = "--type") -> str | None:
        return _resolve(self.types, value, option)


def _resolve(names: dict[str, str], value: str | None, option: str) -> str | None:
    """An id as given, or the id of a name (any case); the API checks that an id exists."""
    if value is None:
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        pass
    for item_id, name in names.items():
        if name.casefold() == value.casefold():
            return item_id
    raise typer.BadParameter(
        f"{value!r} is neither an id nor one of: {', '.join(sorted(names.values()))}.",
        param_hint=option,
    )
