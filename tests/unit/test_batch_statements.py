"""A batch's statements have one text whatever the batch's size, so SQLAlchemy compiles each once
and asyncpg (PostgreSQL) prepares it once per connection. An `IN (…)` list or a multi-row `VALUES`
is a new text for every length, which cost billing and addresses a render and a server-side prepare
for most consumed batches (README, "Batch statements with one text")."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import BigInteger, Column, MetaData, Table, select
from sqlalchemy.dialects.postgresql import asyncpg

from cutover_accounts.adapters.repository import AccountsRepository
from cutover_addresses.adapters.repository import AddressesRepository
from cutover_billing.adapters.repository import BillingRepository
from cutover_kit.db import any_of
from cutover_kit.directory import KnownAccounts, known_accounts_table

DIALECT = asyncpg.dialect()


def text_of(statement: Any) -> str:
    """The SQL asyncpg is given: expanding parameters rendered as they are at execution."""
    return str(statement.compile(dialect=DIALECT, compile_kwargs={"render_postcompile": True}))


class RecordingSession:
    """Stands in for the unit of work's session: records each statement's text, returns no rows."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def execute(self, statement: Any, parameters: Any = None) -> list[Any]:
        self.texts.append(text_of(statement))
        return []


def test_any_of_has_one_text_where_in_has_one_per_length() -> None:
    table = Table("t", MetaData(), Column("id", BigInteger, primary_key=True))
    assert text_of(select(table).where(any_of(table.c.id, [1, 2]))) == text_of(
        select(table).where(any_of(table.c.id, [1, 2, 3]))
    )
    # The form it replaces, for contrast: what this test guards against.
    assert text_of(select(table).where(table.c.id.in_([1, 2]))) != text_of(
        select(table).where(table.c.id.in_([1, 2, 3]))
    )


async def texts_for(size: int, calls: Any) -> list[str]:
    session = RecordingSession()
    await calls(session, list(range(1, size + 1)))
    return session.texts


async def local_copy(session: Any, account_ids: list[int]) -> None:
    accounts = KnownAccounts(session, known_accounts_table(MetaData()))
    await accounts.remember_accounts(account_ids)
    await accounts.lock(*account_ids)


async def billing(session: Any, account_ids: list[int]) -> None:
    repository = BillingRepository(session)
    await repository.uninvoiced_by_account(account_ids, for_update=True)
    await repository.final_invoices_of([uuid4() for _ in account_ids])


async def addresses(session: Any, account_ids: list[int]) -> None:
    repository = AddressesRepository(session)
    await repository.released_by([uuid4() for _ in account_ids])
    await repository.release_accounts([(account_id, uuid4()) for account_id in account_ids])


async def accounts(session: Any, account_ids: list[int]) -> None:
    await AccountsRepository(session).update_disconnects(
        [{"id": uuid4(), "address_state": "released", "state": "pending"} for _ in account_ids]
    )


@pytest.mark.parametrize(
    "calls", [local_copy, billing, addresses, accounts], ids=lambda calls: calls.__name__
)
async def test_a_consumed_batch_s_statements_do_not_depend_on_its_size(calls: Any) -> None:
    assert await texts_for(1, calls) == await texts_for(7, calls) == await texts_for(300, calls)
