"""The Activations & Disconnections report, and due scheduled events arriving from Kafka."""

from __future__ import annotations

import csv
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from cutover_contracts.topics import SCHEDULED_EVENT_DUE, SCHEDULED_EVENT_OUTCOME
from cutover_kit.relay import asyncpg_dsn
from tests.support.api import (
    ACTIVE,
    COMMERCIAL,
    LEAD,
    completed_disconnect,
    debit,
    disconnect,
    new_account,
    ok,
    problem,
)
from tests.support.events import EventTap, wait_until
from tests.support.records import due_event
from tests.support.system import System

pytestmark = pytest.mark.e2e


async def test_the_report_lists_activations_and_disconnections_each_filtered_and_sorted(
    system: System,
) -> None:
    async with system.client("accounts") as accounts, system.client("billing") as billing:
        tag = uuid.uuid4().hex[:8]
        started = datetime.now(UTC).isoformat()
        created = await new_account(accounts, name=f"{tag}-a created")
        lead = await new_account(accounts, name=f"{tag}-b lead", account_status_id=LEAD)
        ok(await accounts.patch(f"/accounts/{lead['id']}", json={"account_status_id": ACTIVE}))
        churner = await new_account(accounts, name=f"{tag}-c churner", account_type_id=COMMERCIAL)
        await debit(billing, churner["id"], 3000)
        await disconnect(accounts, churner["id"], reason="price")
        ok(await accounts.post(f"/accounts/{churner['id']}/reactivate"))
        await disconnect(accounts, created["id"])

        report = ok(
            await accounts.get(
                "/reports/activations-disconnections",
                params={
                    "from": started,
                    "activations_q": tag,
                    "activations_sort": "account_name",
                    "disconnections_q": tag,
                    "disconnections_sort": "-final_invoice_total",
                },
            )
        )

        assert report["from"] == started.replace("+00:00", "Z")
        names = [row["account_name"] for row in report["activations"]]
        # created-as-active, a lead made active and a reactivation all count
        assert names == [
            f"{tag}-a created",
            f"{tag}-b lead",
            f"{tag}-c churner",
            f"{tag}-c churner",
        ]
        totals = [(r["account_name"], r["final_invoice_total"]) for r in report["disconnections"]]
        assert totals == [(f"{tag}-c churner", 3000), (f"{tag}-a created", None)]
        assert report["disconnections"][0]["reason"] == "price"
        assert report["disconnections"][0]["source"] == "manual"

        commercial = ok(
            await accounts.get(
                "/reports/activations-disconnections",
                params={
                    "from": started,
                    "activations_q": tag,
                    "activations_account_type_id": COMMERCIAL,
                    "disconnections_q": tag,
                },
            )
        )
        assert {r["account_name"] for r in commercial["activations"]} == {f"{tag}-c churner"}
        assert len(commercial["disconnections"]) == 2  # the other table keeps its own filters

        # The default period: from 00:00 UTC on the first day of the month eleven months back
        default = ok(await accounts.get("/reports/activations-disconnections"))
        start, end = datetime.fromisoformat(default["from"]), datetime.fromisoformat(default["to"])
        assert (start.day, start.hour, start.minute, start.second) == (1, 0, 0, 0)
        assert (end.year * 12 + end.month) - (start.year * 12 + start.month) == 11
        problem(
            await accounts.get(
                "/reports/activations-disconnections", params={"from": "2026-01-01T00:00:00"}
            ),
            422,
        )
        problem(
            await accounts.get(
                "/reports/activations-disconnections",
                params={"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
            ),
            422,
        )


async def test_a_due_scheduled_disconnect_runs_the_same_flow_and_reports_its_outcome(
    system: System,
) -> None:
    producer = AIOKafkaProducer(**system.infra.kafka_options())
    await producer.start()
    try:
        async with (
            system.client("accounts") as accounts,
            EventTap(system.infra, SCHEDULED_EVENT_OUTCOME.name) as outcomes,
        ):
            account = await new_account(accounts)
            event_id, value = due_event(account["id"], reason="contract ended")
            await producer.send_and_wait(
                SCHEDULED_EVENT_DUE.name, value, key=str(account["id"]).encode()
            )

            async def scheduled_disconnect() -> dict | None:
                items = ok(await accounts.get(f"/accounts/{account['id']}/disconnects"))["items"]
                return items[0] if items else None

            started = await wait_until(scheduled_disconnect)
            assert started["source"] == "scheduled"
            assert started["scheduled_event_id"] == event_id
            assert started["reason"] == "contract ended"
            await completed_disconnect(accounts, started["id"])
            outcome = await outcomes.wait_for(lambda e: e.data["scheduled_event_id"] == event_id)
            assert outcome.data["outcome"] == "completed"
            assert outcome.data["disconnect_id"] == started["id"]

            # A second due disconnect for the now disconnected account is skipped, with the reason
            skipped_id, value = due_event(account["id"])
            await producer.send_and_wait(
                SCHEDULED_EVENT_DUE.name, value, key=str(account["id"]).encode()
            )
            outcome = await outcomes.wait_for(lambda e: e.data["scheduled_event_id"] == skipped_id)
            assert outcome.data["outcome"] == "failed"
            assert "already disconnected" in outcome.data["reason"]
            history = ok(await accounts.get(f"/accounts/{account['id']}/history"))["items"]
            assert history[-1]["change"] == "scheduled_event_skipped"
            assert (
                len(ok(await accounts.get(f"/accounts/{account['id']}/disconnects"))["items"]) == 1
            )
    finally:
        await producer.stop()


async def test_a_due_status_change_applies_the_edit_rules(system: System) -> None:
    producer = AIOKafkaProducer(**system.infra.kafka_options())
    await producer.start()
    try:
        async with (
            system.client("accounts") as accounts,
            EventTap(system.infra, SCHEDULED_EVENT_OUTCOME.name) as outcomes,
        ):
            lead = await new_account(accounts, account_status_id=LEAD)
            event_id, value = due_event(
                lead["id"], "change_account_status", account_status_id=ACTIVE
            )
            await producer.send_and_wait(
                SCHEDULED_EVENT_DUE.name, value, key=str(lead["id"]).encode()
            )
            outcome = await outcomes.wait_for(lambda e: e.data["scheduled_event_id"] == event_id)
            assert outcome.data["outcome"] == "completed"
            assert ok(await accounts.get(f"/accounts/{lead['id']}"))["account_status_id"] == ACTIVE

            refused_id, value = due_event(
                lead["id"], "change_account_status", account_status_id=LEAD
            )
            await producer.send_and_wait(
                SCHEDULED_EVENT_DUE.name, value, key=str(lead["id"]).encode()
            )
            outcome = await outcomes.wait_for(lambda e: e.data["scheduled_event_id"] == refused_id)
            assert outcome.data["outcome"] == "failed"
            assert "disconnect" in outcome.data["reason"]
    finally:
        await producer.stop()


async def seed_activations(system: System, account_id: int, rows: int) -> None:
    """`rows` activations of one account over the year 2001 (a year nothing else lands in),
    written straight into accounts' database: the API would take minutes to make them."""
    connection = await asyncpg.connect(asyncpg_dsn(system.infra.database_url("accounts")))
    try:
        start, step = datetime(2001, 1, 1, tzinfo=UTC), timedelta(days=365) / rows
        await connection.copy_records_to_table(
            "activations",
            records=[(account_id, start + i * step, "reactivated") for i in range(rows)],
            columns=["account_id", "activated_at", "cause"],
        )
    finally:
        await connection.close()


async def test_the_report_reaches_every_row_as_csv_and_as_json_pages(system: System) -> None:
    rows = 25_000
    async with system.client("accounts") as accounts:
        account = await new_account(accounts, name=f"report {uuid.uuid4().hex[:8]}")
        await seed_activations(system, account["id"], rows)
        query = {
            "from": "2001-01-01T00:00:00Z",
            "to": "2002-01-01T00:00:00Z",
            "activations_q": account["name"],
            "activations_sort": "activated_at",
        }

        # The CSV export streams every row of the table, in the table's order
        async with accounts.stream(
            "GET",
            "/reports/activations-disconnections",
            params={**query, "format": "csv", "table": "activations"},
        ) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/csv")
            assert "attachment" in response.headers["content-disposition"]
            lines = [line async for line in response.aiter_lines()]
        exported = list(csv.DictReader(lines))
        assert len(exported) == rows
        assert list(exported[0]) == [
            "account_id", "account_name", "account_type_id", "account_status_id", "activated_at"
        ]  # fmt: skip
        times = [row["activated_at"] for row in exported]
        assert times == sorted(times) and len(set(times)) == rows
        assert {row["account_name"] for row in exported} == {account["name"]}

        # The JSON pages reach every row, each once, ending with a null cursor
        seen: list[str] = []
        cursor = None
        while True:
            page = ok(
                await accounts.get(
                    "/reports/activations-disconnections",
                    params={
                        **query,
                        "activations_limit": 10_000,
                        **({"activations_cursor": cursor} if cursor else {}),
                    },
                )
            )
            assert page["activations_limit"] == 10_000
            seen += [row["activated_at"] for row in page["activations"]]
            cursor = page["activations_next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == rows

        # A CSV without its table is refused, as is a cursor of another sort
        problem(
            await accounts.get(
                "/reports/activations-disconnections", params={**query, "format": "csv"}
            ),
            422,
            "report-table-required",
        )
        first = ok(
            await accounts.get(
                "/reports/activations-disconnections", params={**query, "activations_limit": 10}
            )
        )
        problem(
            await accounts.get(
                "/reports/activations-disconnections",
                params={
                    **query,
                    "activations_sort": "-activated_at",
                    "activations_cursor": first["activations_next_cursor"],
                },
            ),
            422,
            "invalid-cursor",
        )
