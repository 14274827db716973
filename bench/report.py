"""`make bench-report`: the Activations & Disconnections report's export, memory against rows.

Starts Kafka and PostgreSQL in `.local/bench` and the four services (as bench-disconnects does),
then, for each size (default 5,000, 25,000 and 100,000 activations of one account, written straight
into accounts' database), reads the whole table twice: as CSV (`format=csv&table=activations`, one
streamed response) and as JSON pages of 10,000. While each runs, the accounts process' resident
memory is sampled every 20 ms: the figure is its peak above what it held just before. Flat means
the peak does not grow with the rows. Results go to bench/results/report.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import uvloop

from bench.common import REPO, infra, machine, write_result
from bench.disconnects import (
    PORTS,
    RESIDENTIAL,
    TOKEN,
    fresh_databases,
    rss_mib,
    start_services,
    stop_services,
    url,
)

SIZES = [int(size) for size in os.environ.get("BENCH_REPORT_SIZES", "5000,25000,100000").split(",")]
START = datetime(2001, 1, 1, tzinfo=UTC)  # a year of its own: nothing else lands in it
PERIOD = {"from": "2001-01-01T00:00:00Z", "to": "2002-01-01T00:00:00Z"}
ACCOUNTS = f"http://127.0.0.1:{PORTS['accounts']}"


async def seed(account_id: int, rows: int) -> None:
    """`rows` activations of one fresh account, spread over the year 2001."""
    connection = await asyncpg.connect(url("accounts"))
    now = datetime.now(UTC)
    await connection.execute(
        "INSERT INTO accounts (id, name, account_type_id, account_status_id, activated_at,"
        " created_at, updated_at) VALUES ($1, $2, $3, (SELECT id FROM account_statuses"
        " WHERE name = 'Active'), $4, $4, $4)",
        account_id,
        f"Report bench {account_id}",
        uuid.UUID(RESIDENTIAL),
        now,
    )
    step = timedelta(days=365) / rows
    await connection.copy_records_to_table(
        "activations",
        records=[(account_id, START + i * step, "reactivated") for i in range(rows)],
        columns=["account_id", "activated_at", "cause"],
    )
    await connection.close()


async def measured(pid: int, read) -> dict:
    """Run `read()` (returns the rows it saw) while sampling the process' memory."""
    before, peak, running = rss_mib(pid), 0.0, True

    async def sample() -> None:
        nonlocal peak
        while running:
            peak = max(peak, rss_mib(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    rows = await read()
    seconds = time.monotonic() - started
    running = False
    await sampler
    return {
        "rows": rows,
        "seconds": round(seconds, 2),
        "rss_before_mib": round(before, 1),
        "rss_peak_above_before_mib": round(max(peak - before, 0.0), 1),
    }


async def main() -> None:
    print("starting Kafka and PostgreSQL in .local/bench ...", flush=True)
    infra("start")
    processes: list[subprocess.Popen] = []
    results = []
    try:
        await fresh_databases()
        processes = start_services()
        accounts_pid = processes[0].pid
        client = httpx.AsyncClient(
            base_url=ACCOUNTS, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120
        )
        for number, size in enumerate(SIZES, start=1):
            account_id = 9_000_000 + number
            await seed(account_id, size)
            query = {**PERIOD, "activations_q": f"Report bench {account_id}"}

            async def csv_rows(query: dict = query) -> int:
                lines = 0
                async with client.stream(
                    "GET",
                    "/reports/activations-disconnections",
                    params={**query, "format": "csv", "table": "activations"},
                ) as response:
                    response.raise_for_status()
                    async for _ in response.aiter_lines():
                        lines += 1
                return lines - 1  # the header

            async def json_rows(query: dict = query) -> int:
                rows, cursor = 0, None
                while True:
                    params = {**query, "activations_limit": 10_000}
                    if cursor:
                        params["activations_cursor"] = cursor
                    response = await client.get(
                        "/reports/activations-disconnections", params=params
                    )
                    response.raise_for_status()
                    page = response.json()
                    rows += len(page["activations"])
                    cursor = page["activations_next_cursor"]
                    if cursor is None:
                        return rows

            result = {
                "activations": size,
                "csv": await measured(accounts_pid, csv_rows),
                "json_pages_of_10000": await measured(accounts_pid, json_rows),
            }
            print(json.dumps(result), flush=True)
            results.append(result)
        await client.aclose()
    finally:
        stop_services(processes)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "runs": results,
    }
    out = write_result("report.json", document)
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
