"""Cursor pagination and sorting for every list endpoint: `{"items": [...], "next_cursor": ...}`.

Pages are keyset pages over (sort column, id): stable while rows are added, and as fast on page 1000
as on page 1. The cursor is opaque to clients (base64 of the last row's sort value and id) and says
which sort it belongs to, so a cursor replayed with another `sort` is refused instead of misread.

Each list declares itself once, as a `Listing` in its service's `adapters/queries.py`: its sorts
(name → column), its default sort and its id column. The route takes `Annotated[PageRequest,
LISTING.query]` (the `sort`, `limit` and `cursor` parameters, parsed, and described in the OpenAPI
document from the same declaration); the repository hands its filtered query to
`PageRequest.fetch`, which orders it, starts it after the cursor and cuts the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from inspect import Parameter, Signature
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import AwareDatetime, BaseModel, BeforeValidator, WithJsonSchema
from sqlalchemy import Column, Row, Select, and_, or_, select, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.util import ClauseAdapter

from cutover_kit.errors import Unprocessable

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (default 50, max 500)")]
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$")


def _rfc3339(value: Any) -> Any:
    """Only an RFC 3339 text with an offset is a time here (pydantic alone would take `0.5` as
    half a second past 1970)."""
    if isinstance(value, str) and RFC3339.fullmatch(value):
        return value
    raise ValueError("an RFC 3339 time with an offset, e.g. 2026-12-01T00:00:00Z")


# A time in a query (`from`, `to`): RFC 3339 with an offset, nothing else.
Instant = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc3339),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# What `page_of` issues: URL-safe base64. The pattern tells clients (and generated clients) the
# shape; which strings are cursors only the API that issued them knows.
Cursor = Annotated[
    str | None,
    Query(
        max_length=500,
        pattern=r"^[A-Za-z0-9_-]+={0,2}$",
        description=(
            "`next_cursor` of the previous page, opaque, with the same `sort`: a cursor this API "
            "did not issue, or one of another sort, is a 422 `invalid-cursor`"
        ),
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def of(cls, found: tuple[list[Any], str | None], convert: Callable[[Any], T]) -> Page[T]:
        """The page a route answers with, from what `PageRequest.fetch` found."""
        items, next_cursor = found
        return cls(items=[convert(item) for item in items], next_cursor=next_cursor)


class InvalidCursor(Unprocessable):
    code = "invalid-cursor"

    def __init__(self, reason: str) -> None:
        super().__init__(f"The cursor cannot be used: {reason}. Start again without one.")


class InvalidSort(Unprocessable):
    code = "invalid-sort"

    def __init__(self, sort: str, allowed: list[str]) -> None:
        super().__init__(
            f"Cannot sort by {sort!r}; use one of {', '.join(allowed)} (prefix '-' to reverse).",
            allowed=allowed,
        )


@dataclass(frozen=True)
class Sort:
    field: str
    column: ColumnElement[Any]
    descending: bool
    # PostgreSQL puts NULLs last ascending and first descending; a report wants rows without a
    # value (no final invoice) last both ways.
    nulls_last: bool = False

    @property
    def spec(self) -> str:
        return f"-{self.field}" if self.descending else self.field


def sort_query(sorts: Mapping[str, Any], default: str | None = None) -> Any:
    """A list's `sort` parameter: one of its fields, a leading '-' to reverse. Its choices come from
    the map the query sorts by, so the OpenAPI document cannot drift from what is accepted."""
    fields = sorted(sorts)
    return Query(
        description=f"One of {', '.join(fields)}; a leading '-' reverses"
        + (f" (default {default})" if default else ""),
        json_schema_extra={"enum": [*fields, *(f"-{field}" for field in fields)]},
    )


def parse_sort(sort: str, allowed: Mapping[str, ColumnElement[Any]]) -> Sort:
    field = sort.removeprefix("-")
    if field not in allowed:
        raise InvalidSort(sort, sorted(allowed))
    return Sort(field, allowed[field], sort.startswith("-"))


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return {"u": str(value)}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "t" in value:
        return datetime.fromisoformat(value["t"])
    if isinstance(value, dict) and "u" in value:
        return uuid.UUID(value["u"])
    return value


def may_be_null(column: ColumnElement[Any]) -> bool:
    """Whether the column (or the column a label names) may hold NULL."""
    return getattr(getattr(column, "element", column), "nullable", True)


def in_order(query: Select[Any], sort: Sort, id_column: Column[Any]) -> Select[Any]:
    """`query` ordered by the sort, then the id (so equal values keep one order). NULLS LAST is
    only written for a column that may hold NULL: on a NOT NULL one it changes no row's place but
    would stop PostgreSQL reading a (column, id) index backwards, and sort every row instead."""
    if not sort.descending:
        return query.order_by(sort.column, id_column)
    nulls_last = sort.nulls_last and may_be_null(sort.column)
    first = sort.column.desc().nulls_last() if nulls_last else sort.column.desc()
    return query.order_by(first, id_column.desc())


def paginate(
    query: Select[Any], sort: Sort, id_column: Column[Any], *, limit: int, cursor: str | None
) -> Select[Any]:
    """Order `query` by the sort then the id, start after the cursor, fetch one row more than
    `limit` (to know whether a next page exists)."""
    query = in_order(query, sort, id_column).limit(limit + 1)
    if cursor is None:
        return query
    try:
        document = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        spec, last_value, last_id = document["s"], _decode(document["v"]), _decode(document["i"])
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidCursor("it is not a cursor this API issued") from error
    if spec != sort.spec:
        raise InvalidCursor(f"it belongs to sort={spec}, not sort={sort.spec}")
    if last_value is not None and not may_be_null(sort.column):
        # A row comparison is what PostgreSQL can start a (column, id) index scan at; the
        # spelled-out form below is only read as a filter, so a deep page would read every row
        # before it. (With NULLs to place, that form is the one that says where they go.)
        if sort.descending:
            return query.where(tuple_(sort.column, id_column) < tuple_(last_value, last_id))
        return query.where(tuple_(sort.column, id_column) > tuple_(last_value, last_id))
    if last_value is None:
        after = (
            and_(sort.column.is_(None), id_column < last_id)
            if sort.descending
            else and_(sort.column.is_(None), id_column > last_id)
        )
        if sort.descending and not sort.nulls_last:
            after = or_(after, sort.column.is_not(None))
    elif sort.descending:
        after = or_(sort.column < last_value, and_(sort.column == last_value, id_column < last_id))
        if sort.nulls_last:
            after = or_(after, sort.column.is_(None))
    else:
        after = or_(
            sort.column > last_value,
            and_(sort.column == last_value, id_column > last_id),
            sort.column.is_(None),
        )
    return query.where(after)


def page_of(
    rows: list[Any], sort: Sort, *, limit: int, id_key: str = "id"
) -> tuple[list[Any], str | None]:
    """Split the `limit + 1` rows `paginate` fetched into the page and the next cursor."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1]._mapping
    document = {"s": sort.spec, "v": _encode(last[sort.field]), "i": _encode(last[id_key])}
    return rows, base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    sort: Sort,
    id_column: Column[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of `query`'s rows and the cursor of the next page."""
    rows = list(await session.execute(paginate(query, sort, id_column, limit=limit, cursor=cursor)))
    return page_of(rows, sort, limit=limit)


# How many rows of a list's order a search reads, after the cursor, looking for its page among them
# before it reads the matches first instead (`fetch_search_page`).
SEARCH_WALK_ROWS = 10_000


async def fetch_search_page(
    session: AsyncSession,
    query: Select[Any],
    matches: ColumnElement[bool],
    sort: Sort,
    id_column: Column[Any],
    *,
    limit: int,
    cursor: str | None,
) -> tuple[list[Any], str | None]:
    """One page of the rows of `query` that `matches` (a search: `ILIKE '%…%'`) selects, and the
    cursor of the next page: the same page `fetch_page` of `query.where(matches)` would give, read
    one of two ways, because PostgreSQL cannot tell from its statistics which one a pattern needs.

    A common pattern (a last name, 78,000 of 10,000,000 accounts) is found soonest by walking the
    list's order, where a page of matches comes within a few thousand rows; read by its trigram
    index first, every match is read and sorted for the page (172 ms). A rare one (a whole name,
    1,221 accounts) is found soonest by that index; walking the order for it read hundreds of
    thousands of rows (764 ms at p99). Each plan was PostgreSQL's choice for one of them. So the
    search first walks `SEARCH_WALK_ROWS` rows in order after the cursor: a page of matches among
    them is the page, since any match not walked comes after them. Fewer, and it reads the matches
    first (a MATERIALIZED CTE, so the trigram index is used whatever the estimate), each match
    once, and orders them: few, since fewer than a page of them were among the rows walked."""
    table = id_column.table
    walk = paginate(
        query.with_only_columns(*table.c), sort, id_column, limit=SEARCH_WALK_ROWS, cursor=cursor
    ).subquery("walk")
    walked, walked_sort, walked_id = _over(walk, query, sort, id_column)
    page = in_order(walked.where(ClauseAdapter(walk).traverse(matches)), walked_sort, walked_id)
    rows = list(await session.execute(page.limit(limit + 1)))
    if len(rows) > limit:
        return page_of(rows, sort, limit=limit)
    matched = (
        query.with_only_columns(*table.c).where(matches).cte("matched").prefix_with("MATERIALIZED")
    )
    first, first_sort, first_id = _over(matched, query, sort, id_column)
    return await fetch_page(session, first, first_sort, first_id, limit=limit, cursor=cursor)


def _over(
    rows: Any, query: Select[Any], sort: Sort, id_column: Column[Any]
) -> tuple[Select[Any], Sort, Column[Any]]:
    """`query`'s columns, its sort and its id, read from `rows` (a subquery or CTE of every column
    of the id's table)."""
    adapt = ClauseAdapter(rows).traverse
    return (
        select(*(adapt(column) for column in query.selected_columns)),
        replace(sort, column=adapt(sort.column)),
        rows.c[id_column.name],
    )


@dataclass(frozen=True)
class PageRequest:
    """One page asked of a `Listing`: its sort (None: the listing's default), size and cursor."""

    listing: Listing
    sort: Sort | None
    limit: int
    cursor: str | None

    def by_default(self, field: str) -> PageRequest:
        """The same request, sorted by `field` unless the caller chose a sort."""
        return self if self.sort else replace(self, sort=self.listing.sort(field))

    async def fetch(
        self, session: AsyncSession, query: Select[Any], into: Callable[..., T] | None = None
    ) -> tuple[list[Any], str | None]:
        """The page of `query`'s rows (each made `into(**row)` when given) and the next cursor."""
        sort = self.sort or self.listing.sort(self.listing.default)
        rows, next_cursor = await fetch_page(
            session, query, sort, self.listing.id_column, limit=self.limit, cursor=self.cursor
        )
        return (_made(rows, into) if into else rows), next_cursor

    async def search(
        self,
        session: AsyncSession,
        query: Select[Any],
        matches: ColumnElement[bool],
        into: Callable[..., T] | None = None,
    ) -> tuple[list[Any], str | None]:
        """The page of `query`'s rows that `matches`, a search, selects (`fetch_search_page`)."""
        sort = self.sort or self.listing.sort(self.listing.default)
        rows, next_cursor = await fetch_search_page(
            session,
            query,
            matches,
            sort,
            self.listing.id_column,
            limit=self.limit,
            cursor=self.cursor,
        )
        return (_made(rows, into) if into else rows), next_cursor


def records(rows: Sequence[Row[Any]]) -> list[dict[str, Any]]:
    """Each row as a dict of its columns. A row's `_mapping` builds a view of the result's keys
    for every row; the keys are the same for every row of a result, so they are read once: 2,000
    rows of nine columns took 6.2 ms through `_mapping` and take 1.6 ms (best of 5 × 10)."""
    if not rows:
        return []
    keys = rows[0]._fields
    return [dict(zip(keys, row, strict=True)) for row in rows]


def _made(rows: Sequence[Row[Any]], into: Callable[..., T]) -> list[T]:
    return [into(**record) for record in records(rows)]


class Listing:
    """A list endpoint, declared once: the sorts it accepts (API name → column), its default sort
    and the id that breaks ties. `query` is the route's dependency: the `sort`, `limit` and `cursor`
    parameters, described from this declaration and parsed into a `PageRequest` before the route
    runs. A listing that is not `sortable` is always in its default order and offers no `sort`."""

    def __init__(
        self,
        sorts: Mapping[str, ColumnElement[Any]],
        *,
        default: str,
        id_column: Column[Any],
        sortable: bool = True,
    ) -> None:
        self.sorts = dict(sorts)
        self.default = default
        self.id_column = id_column
        self.sort(default)  # a default that is not one of the sorts fails at import, not at request
        self.query: Any = Depends(self._parameters(sortable))

    def sort(self, spec: str) -> Sort:
        return parse_sort(spec, self.sorts)

    def first(self, limit: int) -> PageRequest:
        """The first page in the default order, for a use case that is not a request."""
        return PageRequest(self, None, limit, None)

    def _parameters(self, sortable: bool) -> Callable[..., PageRequest]:
        def parameters(sort: str | None = None, limit: int = 50, cursor: str | None = None):  # noqa: ANN202 - its signature is set below
            return PageRequest(self, None if sort is None else self.sort(sort), limit, cursor)

        # Built here, not written, because the default and the choices are this listing's.
        wanted = [
            Parameter("limit", Parameter.KEYWORD_ONLY, default=50, annotation=Limit),
            Parameter("cursor", Parameter.KEYWORD_ONLY, default=None, annotation=Cursor),
        ]
        if sortable:
            choice = Annotated[str, sort_query(self.sorts, self.default)]
            wanted.insert(
                0, Parameter("sort", Parameter.KEYWORD_ONLY, default=None, annotation=choice)
            )
        parameters.__signature__ = Signature(wanted, return_annotation=PageRequest)  # type: ignore[attr-defined]
        return parameters


def contains_pattern(words: str) -> str:
    """A LIKE pattern matching `words` anywhere, with LIKE's own wildcards escaped."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# The transaction of a session that planned for the pattern (`plan_for_the_pattern`).
_CUSTOM_PLANS = "cutover_custom_plans_in"


async def plan_for_the_pattern(session: AsyncSession) -> None:
    """Have PostgreSQL plan the rest of this transaction's statements for their values.

    A search (`LIKE '%…%'`) is best answered by its trigram index when the pattern is rare and by
    an index in sort order when it is common. Statements are prepared (asyncpg), and after five
    runs of one on a connection PostgreSQL may keep a generic plan made without the pattern: at
    10,000,000 accounts the report's disconnections searched for a rare name then walked 666,813
    disconnects in 18.6 s, where the plan for the pattern takes 0.12 s (EXPLAIN ANALYZE,
    2026-12-03). Only searches pay the planning; SET LOCAL ends with the transaction, and is said
    once in it (a list and its count search in one transaction)."""
    transaction = session.sync_session.get_transaction()
    if session.info.get(_CUSTOM_PLANS) is transaction:
        return
    await session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    session.info[_CUSTOM_PLANS] = transaction
