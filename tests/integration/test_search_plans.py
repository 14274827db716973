"""Searches are planned for their pattern, and give the same pages whichever way they read them,
against real PostgreSQL; the list of available addresses reads an index of its own.

A prepared statement run five times on a connection may be given a generic plan made without its
parameters; for `LIKE '%…%'` that plan cannot know whether the pattern is rare (read the trigram
index) or common (walk an index in sort order), and at 10,000,000 accounts the wrong one took
18.6 s where the right one took 0.12 s. So a search sets `plan_cache_mode` for its transaction,
and nothing else does (the disconnect path keeps its cached plans)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text

from cutover_accounts.adapters import queries as accounts_queries
from cutover_accounts.adapters import repository as accounts_repository
from cutover_accounts.adapters.tables import accounts as accounts_table
from cutover_accounts.service_layer import accounts, report
from cutover_addresses.adapters import queries as addresses_queries
from cutover_contracts import seeds
from cutover_kit import pagination
from cutover_kit.db import Database
from cutover_kit.pagination import PageRequest

pytestmark = pytest.mark.infra

SEARCHING = "force_custom_plan"
NOT_SEARCHING = "auto"


async def plan_cache_mode(uow: Any) -> str:
    return (await uow.session.execute(text("SHOW plan_cache_mode"))).scalar_one()


@pytest.mark.parametrize(("q", "mode"), [("Lovelace", SEARCHING), (None, NOT_SEARCHING)])
async def test_an_account_list_is_planned_for_its_pattern_only_when_it_searches(
    accounts_database: Database, q: str | None, mode: str
) -> None:
    filters = accounts_queries.AccountFilter(q=q)
    page = PageRequest(accounts_queries.ACCOUNTS, None, 10, None)
    async with accounts_database.unit_of_work() as uow:
        await uow.accounts.list_accounts(filters, page)
        assert await plan_cache_mode(uow) == mode
    async with accounts_database.unit_of_work() as uow:
        await uow.accounts.count_accounts(filters)
        assert await plan_cache_mode(uow) == mode
    # A list and its count in one transaction say SET LOCAL once
    said: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "plan_cache_mode =" in statement:
            said.append(statement)

    event.listen(accounts_database.engine.sync_engine, "before_cursor_execute", note)
    try:
        async with accounts_database.unit_of_work() as uow:
            await uow.accounts.list_accounts(filters, page)
            await uow.accounts.count_accounts(filters)
    finally:
        event.remove(accounts_database.engine.sync_engine, "before_cursor_execute", note)
    assert len(said) == (1 if q else 0)
    # SET LOCAL ended with the transaction: the connection goes back to the pool as it came.
    async with accounts_database.unit_of_work() as uow:
        assert await plan_cache_mode(uow) == NOT_SEARCHING


@pytest.mark.parametrize("table", ["activations", "disconnections"])
@pytest.mark.parametrize(("q", "mode"), [("Ada Lovelace", SEARCHING), (None, NOT_SEARCHING)])
async def test_a_report_table_is_planned_for_its_pattern_paged_or_streamed(
    accounts_database: Database, table: accounts_queries.ReportTable, q: str | None, mode: str
) -> None:
    end = datetime.now(UTC)
    report = accounts_queries.report_table(
        table, end - timedelta(days=30), end, accounts_queries.TableQuery(sort="account_id", q=q)
    )
    async with accounts_database.unit_of_work() as uow:
        await uow.accounts.report_page(report, limit=10, cursor=None)
        assert await plan_cache_mode(uow) == mode
    async with accounts_database.unit_of_work() as uow:
        assert [row async for row in uow.accounts.report_rows(report)] == []
        assert await plan_cache_mode(uow) == mode


@pytest.mark.parametrize(("terms", "reads"), [(("Ada", "Ada"), 1), (("Ada", "Grace"), 2)])
async def test_a_report_reads_the_accounts_a_term_matches_once_for_both_tables(
    accounts_database: Database, terms: tuple[str, str], reads: int
) -> None:
    # Given a report whose two tables search the same term, or two terms
    end = datetime.now(UTC)
    activations, disconnections = (
        accounts_queries.TableQuery(sort="account_id", q=term) for term in terms
    )
    matching: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if re.match(r"SELECT accounts\.id\s+FROM accounts\s+WHERE", statement):
            matching.append(statement)

    # When a page of each is read
    event.listen(accounts_database.engine.sync_engine, "before_cursor_execute", note)
    try:
        await report.pages(
            accounts_database.unit_of_work(),
            start=end - timedelta(days=30),
            end=end,
            activations=activations,
            disconnections=disconnections,
            limits=(10, 10),
            cursors=(None, None),
        )
    finally:
        event.remove(accounts_database.engine.sync_engine, "before_cursor_execute", note)

    # Then the accounts a term matches are read once per term
    assert len(matching) == reads


@pytest.mark.parametrize(("q", "mode"), [("main street", SEARCHING), (None, NOT_SEARCHING)])
async def test_an_address_list_is_planned_for_its_pattern_only_when_it_searches(
    addresses_database: Database, q: str | None, mode: str
) -> None:
    page = PageRequest(addresses_queries.ADDRESSES, None, 10, None)
    async with addresses_database.unit_of_work() as uow:
        await uow.addresses.list_addresses(None, q, page)
        assert await plan_cache_mode(uow) == mode


@pytest.mark.parametrize("most", [accounts_repository.MOST_MATCHED_ACCOUNTS, 0])
async def test_a_report_search_finds_the_same_rows_by_matched_ids_or_by_walking_the_period(
    accounts_database: Database, monkeypatch: pytest.MonkeyPatch, most: int
) -> None:
    # Given two accounts a term matches and one it does not, each activated on creation
    tag = uuid.uuid4().hex[:10]
    for name in (f"{tag} one", f"{tag} two", "someone else"):
        await accounts.create_account(
            accounts_database.unit_of_work(), name=name, account_type_id=seeds.RESIDENTIAL
        )
    # When the report searches for it, with the matches' ids handed over, or too many to hand
    monkeypatch.setattr(accounts_repository, "MOST_MATCHED_ACCOUNTS", most)
    end = datetime.now(UTC) + timedelta(minutes=1)
    report = accounts_queries.report_table(
        "activations",
        end - timedelta(days=1),
        end,
        accounts_queries.TableQuery(sort="account_name", q=tag),
    )
    async with accounts_database.unit_of_work() as uow:
        page, _ = await uow.accounts.report_page(report, limit=10, cursor=None)
        streamed = [row async for row in uow.accounts.report_rows(report)]

    # Then both ways find the matching accounts' activations, and only theirs
    expected = [f"{tag} one", f"{tag} two"]
    assert [row["account_name"] for row in page] == expected
    assert [row["account_name"] for row in streamed] == expected


async def pages(
    session: Any, query: Any, matches: Any, sort: str, limit: int, *, search: bool
) -> list[list[int]]:
    """Every page's ids of the account list searched (or, not `search`, of its plain query),
    following the cursors from the first page."""
    found: list[list[int]] = []
    cursor = None
    while True:
        page = PageRequest(
            accounts_queries.ACCOUNTS, accounts_queries.ACCOUNTS.sort(sort), limit, cursor
        )
        if search:
            rows, cursor = await page.search(session, query, matches)
        else:
            rows, cursor = await page.fetch(session, query.where(matches))
        found.append([row.id for row in rows])
        if cursor is None:
            return found


@pytest.mark.parametrize("sort", ["id", "-id", "name", "-created_at", "-disconnected_at"])
@pytest.mark.parametrize(("walk", "limit"), [(5, 1), (5, 3), (10_000, 2)])
async def test_a_search_gives_the_pages_of_its_plain_query_whether_it_walks_or_reads_matches_first(
    accounts_database: Database, monkeypatch: pytest.MonkeyPatch, sort: str, walk: int, limit: int
) -> None:
    # Given accounts where one term is dense (every third) and one rare (two in all)
    tag = uuid.uuid4().hex[:10]
    for n in range(24):
        name = f"{tag} dense {n}" if n % 3 == 0 else f"{tag} other {n}"
        if n in (5, 17):
            name += " rare"
        await accounts.create_account(
            accounts_database.unit_of_work(), name=name, account_type_id=seeds.RESIDENTIAL
        )
    # When a search walks `walk` rows before it reads the matches first instead
    monkeypatch.setattr(pagination, "SEARCH_WALK_ROWS", walk)
    for term in (f"{tag} dense", "rare", f"{tag} other"):
        filters = accounts_queries.AccountFilter(q=term)
        query = select(accounts_table).where(*filters.conditions(search=False))
        matches = filters.matches(term)
        async with accounts_database.unit_of_work() as uow:
            searched = await pages(uow.session, query, matches, sort, limit, search=True)
            plain = await pages(uow.session, query, matches, sort, limit, search=False)
        # Then it gives the very pages of the plain query
        assert searched == plain, term
        assert sum(map(len, searched)) >= 2


@pytest.mark.parametrize("spec", ["created_at", "-created_at", "city", "-zip"])
async def test_the_available_addresses_are_read_from_an_index_of_their_own_in_each_sort(
    addresses_database: Database, spec: str
) -> None:
    # At 10,000,000 accounts one address in ten is available, and a sort's whole index read past
    # the nine others, each on a heap page of its own (about 500 pages for a page of 50).
    listing = addresses_queries.ADDRESSES
    run: list[tuple[str, Any]] = []

    def note(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        run.append((statement, parameters))

    event.listen(addresses_database.engine.sync_engine, "before_cursor_execute", note)
    try:
        async with addresses_database.unit_of_work() as uow:
            await uow.addresses.list_addresses(
                True, None, PageRequest(listing, listing.sort(spec), 10, None)
            )
            statement, parameters = run[-1]
            # An empty table is read faster whole: ask for the plan PostgreSQL keeps for a large one
            await uow.session.execute(text("SET LOCAL enable_seqscan = off"))
            connection = await uow.session.connection()
            plan = "\n".join(
                (await connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)).scalars()
            )
    finally:
        event.remove(addresses_database.engine.sync_engine, "before_cursor_execute", note)
    assert f"serviceable_addresses_available_{spec.lstrip('-')}" in plan, plan
