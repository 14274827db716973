"""A list declared once (`cutover_kit.pagination.Listing`): what its parameters accept, what the
OpenAPI document says of them, the order a page is read in, and its rows as records."""

from __future__ import annotations

from typing import Annotated

import pytest
from fastapi import FastAPI
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    literal,
    select,
)

from cutover_kit.pagination import InvalidSort, Listing, PageRequest, records

things = Table(
    "things",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("name", String),
    Column("updated_at", DateTime(timezone=True)),
)
THINGS = Listing(
    {"name": things.c.name, "updated_at": things.c.updated_at},
    default="name",
    id_column=things.c.id,
)

# A list always in its own order (the dead letters, the audit log).
LETTERS = Listing({"name": things.c.name}, default="-name", id_column=things.c.id, sortable=False)


def test_the_parameters_parse_into_a_page_request() -> None:
    parse = THINGS.query.dependency
    page = parse(sort="-updated_at", limit=5, cursor="eyJz")
    assert (page.sort.spec, page.limit, page.cursor) == ("-updated_at", 5, "eyJz")
    assert parse(limit=50, cursor=None).sort is None  # the listing's default, chosen when read
    for unknown in ("colour", "", "-"):
        with pytest.raises(InvalidSort):
            parse(sort=unknown, limit=50, cursor=None)


def test_a_default_that_is_not_one_of_the_sorts_fails_at_import() -> None:
    with pytest.raises(InvalidSort):
        Listing({"name": things.c.name}, default="-colour", id_column=things.c.id)


def test_a_catch_up_reads_in_change_order_unless_a_sort_was_chosen() -> None:
    # Given a request without a sort, and one sorted by name
    unsorted = THINGS.first(10)
    by_name = PageRequest(THINGS, THINGS.sort("-name"), 10, None)
    # When a use case asks for its catch-up default (`GET /accounts?updated_since=`)
    # Then only the request without a sort takes it
    assert unsorted.by_default("updated_at").sort.spec == "updated_at"
    assert by_name.by_default("updated_at").sort.spec == "-name"


def test_the_openapi_document_says_what_the_listing_accepts() -> None:
    app = FastAPI()

    @app.get("/things")
    def list_things(page: Annotated[PageRequest, THINGS.query]) -> None: ...

    @app.get("/letters")
    def list_letters(page: Annotated[PageRequest, LETTERS.query]) -> None: ...

    paths = app.openapi()["paths"]
    parameters = {p["name"]: p for p in paths["/things"]["get"]["parameters"]}
    assert parameters["sort"]["schema"]["enum"] == ["name", "updated_at", "-name", "-updated_at"]
    assert "(default name)" in parameters["sort"]["description"]
    cursor = parameters["cursor"]["schema"]["anyOf"][0]
    assert cursor["pattern"] == "^[A-Za-z0-9_-]+={0,2}$" and cursor["maxLength"] == 500
    assert parameters["limit"]["schema"]["maximum"] == 500
    # a listing that is always in its own order offers no sort
    assert [p["name"] for p in paths["/letters"]["get"]["parameters"]] == ["limit", "cursor"]


def test_records_are_the_rows_by_their_column_labels() -> None:
    engine = create_engine("sqlite://")
    with engine.connect() as connection:
        rows = list(
            connection.execute(select(literal(1).label("id"), literal("Ada").label("name")))
        )
        none = list(connection.execute(select(literal(1).label("id")).where(literal(False))))
    assert records(rows) == [{"id": 1, "name": "Ada"}]
    assert records(none) == []
