"""`make bench-invoice-counter`: the ceiling of billing's single invoice-number counter.

Invoice numbers are gapless because every invoice takes its number by updating one counter row in
its own transaction, and holds that row's lock until it commits (`BillingRepository.add_invoices`).
So invoicing is serialised: this measures how many invoices per second the counter lets through on
this machine. It starts the bench's Kafka and PostgreSQL (`.local/bench`; Kafka idles), seeds one uninvoiced debit on each
of M accounts in a fresh billing database, then, for each number of concurrent issuers N, issues
invoices for S seconds: each issuer locks an account, reads its uninvoiced debits and issues their
invoice, one transaction per invoice, the statements of `POST /accounts/{id}/invoices` (no HTTP).
Then the same with a batch of B invoices per transaction, as billing issues final invoices for a
consumed batch of disconnects (one counter update per batch). Results:
bench/results/invoice-counter.json.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import statistics
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import uvloop

from bench.common import REPO, fresh_service_database, infra, machine, percentiles, write_result
from bench.disconnects import CpuMeter, url
from cutover_billing.service_layer.unit_of_work import BillingUnitOfWork
from cutover_kit.db import Database

ISSUERS = [int(n) for n in os.environ.get("BENCH_ISSUERS", "1,2,4,8,16").split(",")]
SECONDS = float(os.environ.get("BENCH_SECONDS", "10"))
BATCH = int(os.environ.get("BENCH_BATCH", "100"))
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "200000"))


async def fresh_billing() -> None:
    billing = await asyncpg.connect(await fresh_service_database("billing"))
    ids = range(1, ACCOUNTS + 1)
    await billing.copy_records_to_table(
        "known_accounts", records=[(i,) for i in ids], columns=["account_id"]
    )
    await billing.copy_records_to_table(
        "debits",
        records=[(uuid.uuid4(), i, 1999, "USD", "Fibre 1G") for i in ids],
        columns=["id", "account_id", "amount", "currency", "description"],
    )
    await billing.close()


async def issue(database: Database, account_ids: list[int]) -> tuple[int, float]:
    """Invoice these accounts' uninvoiced debits in one transaction; return how many invoices and
    the milliseconds from taking the numbers to the commit: the counter's row lock is held that
    long (plus, with several issuers, the wait for it)."""
    async with database.unit_of_work() as uow:
        assert isinstance(uow, BillingUnitOfWork)
        repository = uow.billing
        await repository.accounts.lock(*account_ids)
        uninvoiced = await repository.uninvoiced_by_account(account_ids, for_update=True)
        numbered = time.perf_counter()
        issued = await repository.add_invoices(
            "regular", [(account_id, debits, None) for account_id, debits in uninvoiced.items()]
        )
        await uow.commit()
        return len(issued), (time.perf_counter() - numbered) * 1000


async def run(database: Database, accounts: itertools.count, issuers: int, batch: int) -> dict:
    """`issuers` concurrent loops, each issuing `batch` invoices a transaction for SECONDS."""
    deadline = time.monotonic() + SECONDS
    issued = 0
    held: list[float] = []

    async def issuer() -> None:
        nonlocal issued
        while time.monotonic() < deadline:
            count, ms = await issue(database, [next(accounts) for _ in range(batch)])
            issued += count
            held.append(ms)

    started = time.monotonic()
    await asyncio.gather(*(issuer() for _ in range(issuers)))
    seconds = time.monotonic() - started
    return {
        "issuers": issuers,
        "invoices_per_transaction": batch,
        "invoices": issued,
        "seconds": round(seconds, 2),
        "invoices_per_second": round(issued / seconds),
        "numbers_to_commit_ms": percentiles(held),
        # One issuer never waits for the lock: the counter lets through at most this many
        # transactions a second, each holding it this long.
        "ceiling_per_second": (
            round(1000 / statistics.median(held) * batch) if issuers == 1 and held else None
        ),
    }


async def main() -> None:
    print("starting PostgreSQL in .local/bench ...", flush=True)
    infra("start")
    try:
        await fresh_billing()
        accounts = itertools.count(1)
        rows = []
        for batch in (1, BATCH):
            for issuers in ISSUERS:
                database = Database(
                    url("billing").replace("postgresql://", "postgresql+asyncpg://"),
                    service="billing",
                    pool_size=issuers,
                    unit_of_work=BillingUnitOfWork,
                )
                meter = CpuMeter({})
                meter.start()
                row = await run(database, accounts, issuers, batch)
                cpu = meter.per(row["invoices"])
                row["cpu_ms_per_invoice"] = {
                    part: cpu[part] for part in ("postgres", "load generator", "whole machine")
                }
                await database.dispose()
                print(json.dumps(row), flush=True)
                rows.append(row)
    finally:
        infra("stop")
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seconds_each": SECONDS,
        "runs": rows,
    }
    out = write_result("invoice-counter.json", document)
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
