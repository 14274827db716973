"""Reads and writes of the accounts database for one unit of work. It never commits."""

from __future__ import annotations

import json
import uuid
import zlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    DateTime,
    Select,
    Text,
    any_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from cutover_accounts.adapters.queries import AccountFilter, ReportQuery
from cutover_accounts.adapters.tables import (
    account_history,
    account_statuses,
    account_types,
    accounts,
    activations,
    disconnects,
    settings,
)
from cutover_accounts.domain.model import Account, AccountStatus, Disconnect
from cutover_kit import context
from cutover_kit.db import any_of, in_one_statement, rows_of
from cutover_kit.pagination import (
    PageRequest,
    fetch_page,
    in_order,
    plan_for_the_pattern,
    records,
)

REPORT_BATCH = 1000  # rows per fetch of a streamed report: flat memory, few round trips
# A report search hands at most this many matching accounts' ids to the table's query (0.8 MB of
# ids); a term more accounts carry is searched by walking the period, where matches are dense.
MOST_MATCHED_ACCOUNTS = 100_000
# The advisory lock that serialises parent changes (the relay's keys are crc32s of other names).
PARENT_LINKS_LOCK_KEY = zlib.crc32(b"cutover-accounts:parent-links")


# What each state shown by the API means in the table: stalled is pending past its deadline.
DISCONNECT_STATE_FILTERS = {
    "pending": [disconnects.c.state == "pending", disconnects.c.deadline_at > func.now()],
    "stalled": [disconnects.c.state == "pending", disconnects.c.deadline_at <= func.now()],
    "completed": [disconnects.c.state == "completed"],
    "abandoned": [disconnects.c.state == "abandoned"],
}


def _pending_disconnect(account_id: Any) -> Select[tuple[UUID]]:
    """The id of the account's pending disconnect (at most one: a unique partial index)."""
    return select(disconnects.c.id).where(
        disconnects.c.account_id == account_id, disconnects.c.state == "pending"
    )


_HISTORY_ROWS = rows_of(
    account_id=("history_account_ids", BigInteger),
    change=("history_changes", Text),
    cause=("history_causes", Text),
    actor=("history_actors", Text),
    correlation_id=("history_correlation_ids", Text),
    details=("history_details", Text),
)
RECORD_HISTORY = insert(account_history).from_select(
    ["account_id", "change", "cause", "actor", "correlation_id", "details"],
    select(
        *(_HISTORY_ROWS.c[name] for name in ("account_id", "change", "cause", "actor"))
    ).add_columns(_HISTORY_ROWS.c.correlation_id, cast(_HISTORY_ROWS.c.details, JSONB)),
)
_NEW_DISCONNECTS = rows_of(
    id=("ids", PG_UUID(as_uuid=True)),
    account_id=("account_ids", BigInteger),
    source=("sources", Text),
    scheduled_event_id=("scheduled_event_ids", PG_UUID(as_uuid=True)),
    reason=("reasons", Text),
)
_STATUS_ID = bindparam("status_id", type_=PG_UUID(as_uuid=True))
_REQUESTED_AT = bindparam("requested_at", type_=DateTime(timezone=True))
# The accounts (locked by this transaction) move to the disconnect status, their disconnects start,
# and the history records it: one statement.
START_DISCONNECTS = in_one_statement(
    update(accounts)
    .where(accounts.c.id == any_(bindparam("account_ids", type_=ARRAY(BigInteger))))
    .values(
        account_status_id=_STATUS_ID,
        disconnected_at=_REQUESTED_AT,
        updated_at=func.now(),
    ),
    insert(disconnects).from_select(
        [
            "id",
            "account_id",
            "source",
            "scheduled_event_id",
            "reason",
            "state",
            "requested_at",
            "status_id",
            "final_invoice_state",
            "address_state",
            "deadline_at",
        ],
        select(
            *_NEW_DISCONNECTS.c,
            literal("pending"),
            _REQUESTED_AT,
            _STATUS_ID,
            literal("pending"),
            literal("pending"),
            bindparam("deadline_at", type_=DateTime(timezone=True)),
        ),
    ),
    RECORD_HISTORY,
)


class HistoryEntry(NamedTuple):
    """One history row; a batch applying many events gives each its own actor and correlation id
    (None: the current one)."""

    account_id: int
    change: str
    cause: str
    details: dict[str, Any]
    correlation_id: str | None = None
    actor: str | None = None


class LockedForDisconnect(NamedTuple):
    account: Account
    pending_disconnect_id: UUID | None
    last_disconnect_abandoned: bool
    disconnect_status_id: UUID


class AccountsRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        # The accounts a report's search matched in this transaction, by term: the report's two
        # tables are often searched for the same term, and at 10,000,000 accounts matching a
        # whole name reads the trigram index for about 40 ms of PostgreSQL's time.
        self._matched: dict[str, list[int]] = {}

    async def status(self, status_id: UUID) -> AccountStatus | None:
        row = (
            await self.session.execute(
                select(account_statuses).where(account_statuses.c.id == status_id)
            )
        ).first()
        return AccountStatus(row.id, row.name, row.activates_account) if row else None

    async def statuses(self) -> list[AccountStatus]:
        rows = await self.session.execute(
            select(account_statuses).order_by(account_statuses.c.name)
        )
        return [AccountStatus(row.id, row.name, row.activates_account) for row in rows]

    async def add_status(self, name: str, activates_account: bool) -> AccountStatus | None:
        """None when the name is taken."""
        row = (
            await self.session.execute(
                pg_insert(account_statuses)
                .values(id=uuid.uuid4(), name=name, activates_account=activates_account)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(account_statuses)
            )
        ).first()
        return AccountStatus(row.id, row.name, row.activates_account) if row else None

    async def types(self) -> list[dict[str, Any]]:
        rows = await self.session.execute(select(account_types).order_by(account_types.c.name))
        return [dict(row._mapping) for row in rows]

    async def add_type(self, name: str) -> dict[str, Any] | None:
        """None when the name is taken."""
        row = (
            await self.session.execute(
                pg_insert(account_types)
                .values(id=uuid.uuid4(), name=name)
                .on_conflict_do_nothing(index_elements=["name"])
                .returning(account_types)
            )
        ).first()
        return dict(row._mapping) if row else None

    async def set_disconnect_status(self, status_id: UUID) -> None:
        await self.session.execute(
            update(settings).values(disconnect_account_status_id=status_id, updated_at=func.now())
        )

    async def status_named(self, name: str) -> AccountStatus:
        row = (
            await self.session.execute(
                select(account_statuses).where(account_statuses.c.name == name)
            )
        ).one()
        return AccountStatus(row.id, row.name, row.activates_account)

    async def type_exists(self, type_id: UUID) -> bool:
        return bool(
            await self.session.scalar(select(exists().where(account_types.c.id == type_id)))
        )

    async def disconnect_status_id(self) -> UUID:
        return (
            await self.session.execute(select(settings.c.disconnect_account_status_id))
        ).scalar_one()

    async def next_account_id(self) -> int:
        return (await self.session.execute(text("SELECT nextval('accounts_id_seq')"))).scalar_one()

    async def add_account(self, **values: Any) -> Account | None:
        """Insert the account; None when its id is taken. A create of the same id still in flight
        is waited for: if it commits this one yields, if it rolls back this one goes ahead."""
        row = (
            await self.session.execute(
                pg_insert(accounts)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["id"])
                .returning(accounts)
            )
        ).first()
        return Account(**row._mapping) if row else None

    async def get(self, account_id: int, *, for_update: bool = False) -> Account | None:
        query = select(accounts).where(accounts.c.id == account_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return Account(**row._mapping) if row else None

    async def update_account(self, account_id: int, **values: Any) -> Account:
        row = (
            await self.session.execute(
                update(accounts)
                .where(accounts.c.id == account_id)
                .values(**values, updated_at=func.now())
                .returning(accounts)
            )
        ).one()
        return Account(**row._mapping)

    async def list_accounts(
        self, filters: AccountFilter, page: PageRequest
    ) -> tuple[list[Account], str | None]:
        query = select(accounts).where(*filters.conditions(search=False))
        if filters.q:
            await plan_for_the_pattern(self.session)
            return await page.search(self.session, query, filters.matches(filters.q), Account)
        return await page.fetch(self.session, query, Account)

    async def count_accounts(self, filters: AccountFilter) -> int:
        if filters.q:
            await plan_for_the_pattern(self.session)
        return (
            await self.session.execute(
                select(func.count()).select_from(accounts).where(*filters.conditions())
            )
        ).scalar_one()

    async def report_page(
        self, report: ReportQuery, *, limit: int, cursor: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a report table, and the cursor of the next."""
        rows, next_cursor = await fetch_page(
            self.session,
            await self._report_statement(report),
            report.sort,
            report.id_column,
            limit=limit,
            cursor=cursor,
        )
        return records(rows), next_cursor

    async def _report_statement(self, report: ReportQuery) -> Select[Any]:
        """The report's statement, narrowed to the accounts its search matches (read first)."""
        if not report.q:
            return report.statement
        await plan_for_the_pattern(self.session)
        search = report.search()
        matched = self._matched.get(report.q)
        if matched is None:
            matched = self._matched[report.q] = list(
                await self.session.scalars(
                    select(accounts.c.id).where(*search).limit(MOST_MATCHED_ACCOUNTS + 1)
                )
            )
        if len(matched) > MOST_MATCHED_ACCOUNTS:
            # A term most accounts carry: walking the period in order finds a page at once.
            return report.statement.where(*search)
        return report.statement.where(any_of(report.account_column, matched))

    async def report_rows(self, report: ReportQuery) -> AsyncIterator[dict[str, Any]]:
        """Every row of a report table, read through a server-side cursor a batch at a time, so
        memory stays flat however many rows there are."""
        statement = in_order(await self._report_statement(report), report.sort, report.id_column)
        result = await self.session.stream(statement.execution_options(yield_per=REPORT_BATCH))
        async for batch in result.partitions():
            for record in records(batch):
                yield record

    async def lock_parent_links(self) -> None:
        """Hold, until commit, the one lock that every parent change takes before its cycle check.

        A cycle check reads other accounts' parent links, which no row lock of this transaction
        covers: two changes (1 → parent 2, 2 → parent 1) could each pass it and close a cycle
        together. Parent changes are rare edits, so taking them one at a time costs nothing that
        matters, and it is simpler and surer than locking whole chains. A new account cannot
        close a cycle (it has no children yet), so creating one does not take it.
        """
        await self.session.execute(select(func.pg_advisory_xact_lock(PARENT_LINKS_LOCK_KEY)))

    async def is_ancestor_or_self(self, account_id: int, of: int) -> bool:
        """Whether `account_id` is `of` or one of its ancestors (walking up parent links)."""
        chain = (
            select(accounts.c.id, accounts.c.parent_account_id)
            .where(accounts.c.id == of)
            .cte("chain", recursive=True)
        )
        chain = chain.union(
            select(accounts.c.id, accounts.c.parent_account_id).where(
                accounts.c.id == chain.c.parent_account_id
            )
        )
        return bool(await self.session.scalar(select(exists().where(chain.c.id == account_id))))

    async def record_activation(self, account_id: int, at: datetime, cause: str) -> None:
        await self.session.execute(
            insert(activations).values(account_id=account_id, activated_at=at, cause=cause)
        )

    async def history(
        self, account_id: int, page: PageRequest
    ) -> tuple[list[dict[str, Any]], str | None]:
        query = select(account_history).where(account_history.c.account_id == account_id)
        return await page.fetch(self.session, query, dict)

    async def pending_disconnect_id(self, account_id: int) -> UUID | None:
        return await self.session.scalar(_pending_disconnect(account_id))

    async def lock_for_disconnects(self, account_ids: list[int]) -> dict[int, LockedForDisconnect]:
        """Each known account among these (row-locked until commit, in id order so two batches
        never deadlock), its pending disconnect if any, whether its last disconnect was abandoned,
        and the configured disconnect status, in one round trip (the hottest statement: every
        disconnect, HTTP or scheduled, starts with it)."""
        pending = _pending_disconnect(accounts.c.id).scalar_subquery()
        last_state = (
            select(disconnects.c.state)
            .where(disconnects.c.account_id == accounts.c.id)
            .order_by(disconnects.c.requested_at.desc())
            .limit(1)
            .scalar_subquery()
        )
        status = select(settings.c.disconnect_account_status_id).scalar_subquery()
        rows = await self.session.execute(
            select(
                accounts,
                pending.label("pending_id"),
                last_state.label("last_state"),
                status.label("status_id"),
            )
            .where(accounts.c.id == any_(bindparam("account_ids", type_=ARRAY(BigInteger))))
            .order_by(accounts.c.id)
            .with_for_update(of=accounts),
            {"account_ids": list(set(account_ids))},
        )
        return {
            values["id"]: LockedForDisconnect(
                Account(**{column.name: values[column] for column in accounts.c}),
                values["pending_id"],
                values["last_state"] == "abandoned",
                values["status_id"],
            )
            for values in (row._mapping for row in rows)
        }

    async def record_disconnect_starts(
        self, started: list[Disconnect], history: list[HistoryEntry]
    ) -> None:
        """The accounts moved to their disconnects' status, the disconnects and their history, in
        one statement: the hottest write (every disconnect, HTTP or scheduled) in one round trip
        instead of three, with the same text whatever the batch size."""
        first = started[0]  # one batch, one configured status, one request time and deadline
        await self.session.execute(
            START_DISCONNECTS,
            {
                "account_ids": [d.account_id for d in started],
                "status_id": first.status_id,
                "requested_at": first.requested_at,
                "deadline_at": first.deadline_at,
                "ids": [d.id for d in started],
                "sources": [d.source for d in started],
                "scheduled_event_ids": [d.scheduled_event_id for d in started],
                "reasons": [d.reason for d in started],
                **self._history_parameters(history),
            },
        )

    async def get_disconnect(self, disconnect_id: UUID) -> Disconnect | None:
        query = select(disconnects).where(disconnects.c.id == disconnect_id)
        row = (await self.session.execute(query)).first()
        return Disconnect(**row._mapping) if row else None

    async def unfinished_disconnects(self, disconnect_ids: list[UUID]) -> dict[UUID, Disconnect]:
        """The pending and abandoned ones among these disconnects (an abandoned one still records
        a late answer), locked in id order until commit."""
        rows = await self.session.execute(
            select(disconnects)
            .where(
                any_of(disconnects.c.id, disconnect_ids),
                disconnects.c.state.in_(("pending", "abandoned")),
            )
            .order_by(disconnects.c.id)
            .with_for_update()
        )
        return {row.id: Disconnect(**row._mapping) for row in rows}

    async def lock_disconnect(self, disconnect_id: UUID) -> Disconnect | None:
        """The disconnect and its account, row-locked until commit (account first, like every
        lifecycle change, so a retry or abandon never deadlocks with one)."""
        account_id = await self.session.scalar(
            select(disconnects.c.account_id).where(disconnects.c.id == disconnect_id)
        )
        if account_id is None:
            return None
        await self.session.execute(
            select(accounts.c.id).where(accounts.c.id == account_id).with_for_update()
        )
        row = (
            await self.session.execute(
                select(disconnects).where(disconnects.c.id == disconnect_id).with_for_update()
            )
        ).one()
        return Disconnect(**row._mapping)

    async def update_disconnect(self, disconnect_id: UUID, **values: Any) -> Disconnect:
        row = (
            await self.session.execute(
                update(disconnects)
                .where(disconnects.c.id == disconnect_id)
                .values(**values)
                .returning(disconnects)
            )
        ).one()
        return Disconnect(**row._mapping)

    async def list_disconnects(
        self, state: str | None, page: PageRequest
    ) -> tuple[list[Disconnect], str | None]:
        query = select(disconnects).where(*(DISCONNECT_STATE_FILTERS[state] if state else []))
        return await page.fetch(self.session, query, Disconnect)

    async def count_stalled(self) -> int:
        return (
            await self.session.scalar(
                select(func.count())
                .select_from(disconnects)
                .where(disconnects.c.state == "pending", disconnects.c.deadline_at <= func.now())
            )
        ) or 0

    async def update_disconnects(self, changes: list[dict[str, Any]]) -> None:
        """Each change is {"id": …, column: value, …}, the same columns in every change and one
        change a disconnect: one UPDATE from arrays, not one execution a row."""
        if not changes:
            return
        columns = list(changes[0])
        rows = rows_of(
            **{column: (f"new_{column}", disconnects.c[column].type) for column in columns}
        )
        await self.session.execute(
            update(disconnects)
            .where(disconnects.c.id == rows.c.id)
            .values({column: rows.c[column] for column in columns if column != "id"}),
            {f"new_{column}": [change[column] for change in changes] for column in columns},
        )

    async def disconnected_at(self, account_ids: list[int]) -> dict[int, datetime | None]:
        rows = await self.session.execute(
            select(accounts.c.id, accounts.c.disconnected_at).where(
                any_of(accounts.c.id, account_ids)
            )
        )
        return {row.id: row.disconnected_at for row in rows}

    async def disconnects_of(
        self, account_id: int, page: PageRequest
    ) -> tuple[list[Disconnect], str | None]:
        query = select(disconnects).where(disconnects.c.account_id == account_id)
        return await page.fetch(self.session, query, Disconnect)

    async def record_history(
        self, account_id: int, change: str, cause: str, **details: Any
    ) -> None:
        await self.record_histories([HistoryEntry(account_id, change, cause, details)])

    async def record_histories(self, entries: list[HistoryEntry]) -> None:
        await self.session.execute(RECORD_HISTORY, self._history_parameters(entries))

    @staticmethod
    def _history_parameters(entries: list[HistoryEntry]) -> dict[str, list[Any]]:
        return {
            "history_account_ids": [entry.account_id for entry in entries],
            "history_changes": [entry.change for entry in entries],
            "history_causes": [entry.cause for entry in entries],
            "history_actors": [entry.actor or context.actor.get() for entry in entries],
            "history_correlation_ids": [
                entry.correlation_id or context.correlation_id.get() for entry in entries
            ],
            "history_details": [json.dumps(entry.details) for entry in entries],
        }
