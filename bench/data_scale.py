"""`make bench-data-scale`: what every interactive call costs as the data grows.

Starts Kafka and PostgreSQL in `.local/bench` and the four services (as bench-disconnects does), then
for each size (BENCH_DATA_SCALES, default 1,000,000 and 10,000,000 accounts) grows the databases to
that many accounts with their history, written in SQL by `generate_series` inside PostgreSQL (the
API would take days; the rows are the ones the services write):

- accounts: one account per id over the last three years (10 % disconnected, 1 % leads, 0.1 %
  archived, 2 % children of the previous id), names drawn from 64 first × 128 last names; its
  activation, its history (created, and for a disconnected account the request and the completion),
  its completed disconnect;
- billing: a regular invoice of one debit for every account that was active, a second debit either
  uninvoiced or on the final invoice of its disconnect;
- addresses: one serviceable address per account, held unless the account was disconnected (then
  released), with its history;
- scheduler: a pending scheduled disconnect for 10 % of the accounts.

Each size is reached from the one before (1M, then 9M more), with the tables' secondary indexes
dropped during the load and built again after it (as a restore does), then `VACUUM ANALYZE`; how
long each step took is in the results. Then each interactive call is measured through the HTTP API,
one request at a time, BENCH_DATA_SCALE_REQUESTS times (default 200): the lists walk their cursor
chain page after page (so deep pages count), the per-account calls take a different account each
time. Beside them, the report's CSV export of the activations over the default period: rows/s, and
the accounts process' memory during it (its peak above what it held before: flat means it does not
grow with the rows). Results go to bench/results/data-scale.json, with p50/p99 in ms per call and
size, and the table printed at the end. Beside each call's times and CPU is what the machine read
from its disks during its requests (`/proc/vmstat`'s `pgpgin`, read around each request): in all,
how many requests read anything, and the slowest three with their reads, so that a slow page that
waited on the disk shows as one.

BENCH_DATA_SCALE_KEEP=1 keeps the databases of the previous run when they hold the first size
already (migrating them to the head revision, which also measures the new migrations on that much
data), instead of seeding again.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import uvloop

from bench.common import REPO, infra, kafka_settings, machine, percentiles, write_result
from bench.disconnects import (
    PORTS,
    TOKEN,
    CpuMeter,
    fresh_databases,
    start_services,
    stop_services,
    url,
)
from bench.report import measured
from cutover_contracts import seeds
from cutover_contracts.topics import SERVICES
from cutover_kit.kafka import provision_acls, provision_topics
from cutover_kit.migrations import upgrade

SCALES = [int(size) for size in os.environ.get("BENCH_DATA_SCALES", "1000000,10000000").split(",")]
REQUESTS = int(os.environ.get("BENCH_DATA_SCALE_REQUESTS", "200"))
KEEP = os.environ.get("BENCH_DATA_SCALE_KEEP") == "1"
TARGET_P99_MS = 50.0
# The slowest requests of each call, kept with their disk reads: the p99 of 200 is the third.
SLOWEST = 3
SYSTEM_PARTS = (*SERVICES, "postgres")  # a call's CPU: the services and PostgreSQL
FIRST = (
    "Ada Alan Barbara Brian Carol Claude Dana Dennis Edsger Ellen Frances Fred Grace Guido "
    "Hedy Ivan Jean John Karen Ken Leslie Linus Margaret Mary Niklaus Nancy Ole Peter Radia Rob "
    "Shafi Sophie Tim Tony Ursula Vint Whitfield Yukihiro Zoe Adele Bjarne Cynthia Donald Evelyn "
    "Fernando Gwen Hal Irene Joan Kathleen Larry Maurice Noam Olga Pat Rosalind Seymour Teresa "
    "Ulf Valerie Wendy Xavier Yvonne Zhou"
).split()
LAST = (
    "Lovelace Turing Liskov Kernighan Shannon Ritchie Dijkstra Allen Hopper Rossum Lamarr "
    "Sutherland Sammet Backus Jones Thompson Lamport Torvalds Hamilton Wirth Keller Dahl Naur "
    "Perlman Pike Goldwasser Wilson Berners Hoare Hennessy Cerf Diffie Matsumoto Ahlberg Stroustrup "
    "Dwork Knuth Evans Corbato Kurtz Cooke Tarjan Karp Wing Page Wilkes Chomsky Kay Floyd Rivest "
    "Franklin Milner Hart Rabin Estrin Scott Feigenbaum Engelbart McCarthy Minsky Simon Newell Iverson "
    "Bachman Codd Stonebraker Gray Hellman Merkle Adleman Shamir Cook Levin Valiant Yao Blum Hartmanis "
    "Stearns Kahan Brooks Sifakis Clarke Emerson Pnueli Kahn Lampson Thacker Engel Moler Dongarra "
    "Hinton LeCun Bengio Pearl Aho Ullman Hopcroft Cocke Backhouse Mills Postel Clark Bray Fielding "
    "Crockford Eich Wall Ousterhout Meyer Gosling Hejlsberg Lattner Steele Sussman Abelson Friedman "
    "Felleisen Hudak Peyton Wadler Harper Pierce Leroy Milne Parnas Brinch Gries Hamming"
).split()
# What a search looks for: a last name (1 in 128 accounts), a first and last name (1 in 8,192),
# a term no name holds (the whole index must say so), an account id typed into the search box.
SEARCHES = {
    "common": ["Lovelace", "turing", "Hopper", "knuth"],
    "rare": ["Grace Hopper", "Ada Lovelace", "Linus Torvalds", "Barbara Liskov"],
    "absent": ["Zuse", "qqqzz", "Xyzzy", "Nakamoto"],
    "id": ["4242", "777777", "123", "99991"],
}


# --- seeding ------------------------------------------------------------------------------------

# Every value of a row derives from its id (and a hash of it), so a size is reached from the one
# before by seeding the ids above it, and every database agrees on the accounts' states.
ACCOUNT_VALUES = f"""
    SELECT i,
           (i * 2654435761) % 4294967296 AS h,
           i % 100 = 7 AS lead,
           i % 10 = 3 AS disconnected,
           i % 1000 = 3 AS archived,
           now() - ((i * 2654435761) % 94608000) * interval '1 second' AS created,
           (ARRAY{FIRST!r})[1 + i % {len(FIRST)}] || ' ' || (ARRAY{LAST!r})[1 + (i / {len(FIRST)}) % {len(LAST)}] AS name
    FROM generate_series($1::bigint, $2::bigint) AS i
"""  # noqa: S608 - constants of this module
DISCONNECTED_AT = "created + (now() - created) * (((h / 256) % 1000) / 1000.0)"


def uuid_of(kind: str, column: str = "i") -> str:
    """A stable UUID for the `kind` row of an account, the same in every database."""
    return f"md5('{kind}-' || {column})::uuid"


SEED = {
    "accounts": [
        f"""INSERT INTO accounts (id, name, account_type_id, account_status_id, parent_account_id,
              activated_at, disconnected_at, archived_at, created_at, updated_at)
            SELECT i, name,
              (ARRAY['{seeds.RESIDENTIAL}', '{seeds.RESIDENTIAL}', '{seeds.COMMERCIAL}',
                     '{seeds.GOVERNMENT}']::uuid[])[1 + h % 4],
              CASE WHEN lead THEN '{seeds.LEAD}'::uuid WHEN disconnected THEN '{seeds.INACTIVE}'::uuid
                   ELSE '{seeds.ACTIVE}'::uuid END,
              CASE WHEN i % 50 = 0 THEN i - 1 END,
              CASE WHEN NOT lead THEN created END,
              CASE WHEN disconnected THEN {DISCONNECTED_AT} END,
              CASE WHEN archived THEN now() END,
              created,
              CASE WHEN archived THEN now() WHEN disconnected THEN {DISCONNECTED_AT} ELSE created END
            FROM ({ACCOUNT_VALUES}) AS v""",
        f"""INSERT INTO activations (account_id, activated_at, cause)
            SELECT i, created, 'created' FROM ({ACCOUNT_VALUES}) AS v WHERE NOT lead""",
        f"""INSERT INTO account_history (account_id, at, change, actor, cause, correlation_id)
            SELECT i, at, change, 'bench', cause, md5(change || i)
            FROM ({ACCOUNT_VALUES}) AS v,
            LATERAL (VALUES (created, 'created', 'api'),
                            (CASE WHEN disconnected THEN {DISCONNECTED_AT} END,
                             'disconnect_requested', 'manual'),
                            (CASE WHEN disconnected THEN {DISCONNECTED_AT} + interval '1 second' END,
                             'disconnect_completed', 'manual')) AS c(at, change, cause)
            WHERE at IS NOT NULL""",
        f"""INSERT INTO disconnects (id, account_id, source, reason, state, requested_at,
              completed_at, status_id, final_invoice_state, final_invoice_id, final_invoice_total,
              final_invoice_currency, address_state, released_address_id, deadline_at)
            SELECT {uuid_of("disconnect")}, i, 'manual', 'moving away', 'completed',
              {DISCONNECTED_AT}, {DISCONNECTED_AT} + interval '1 second', '{seeds.INACTIVE}',
              'issued', {uuid_of("final")}, 2599, 'USD', 'released', {uuid_of("address")},
              {DISCONNECTED_AT} + interval '300 seconds'
            FROM ({ACCOUNT_VALUES}) AS v WHERE disconnected""",
        "SELECT setval('accounts_id_seq', $2::bigint) WHERE $1::bigint > 0",
    ],
    "billing": [
        f"""INSERT INTO known_accounts (account_id, archived_at)
            SELECT i, CASE WHEN archived THEN now() END FROM ({ACCOUNT_VALUES}) AS v""",
        f"""INSERT INTO invoices (id, number, account_id, kind, currency, total, issued_at,
              disconnect_id)
            SELECT {uuid_of("invoice")}, 2 * i - 1, i, 'regular', 'USD', 1999, created, NULL
            FROM ({ACCOUNT_VALUES}) AS v WHERE NOT lead
            UNION ALL
            SELECT {uuid_of("final")}, 2 * i, i, 'final', 'USD', 2599, {DISCONNECTED_AT},
              {uuid_of("disconnect")}
            FROM ({ACCOUNT_VALUES}) AS v WHERE disconnected""",
        f"""INSERT INTO debits (id, account_id, amount, currency, description, created_at,
              invoice_id)
            SELECT {uuid_of("debit1")}, i, 1999, 'USD', 'Fibre 1G', created, {uuid_of("invoice")}
            FROM ({ACCOUNT_VALUES}) AS v WHERE NOT lead
            UNION ALL
            SELECT {uuid_of("debit2")}, i, 2599, 'USD', 'Fibre 1G, last month', created,
              CASE WHEN disconnected THEN {uuid_of("final")} END
            FROM ({ACCOUNT_VALUES}) AS v WHERE NOT lead""",
        f"""INSERT INTO invoice_lines (invoice_id, debit_id, position, description, amount)
            SELECT {uuid_of("invoice")}, {uuid_of("debit1")}, 1, 'Fibre 1G', 1999
            FROM ({ACCOUNT_VALUES}) AS v WHERE NOT lead
            UNION ALL
            SELECT {uuid_of("final")}, {uuid_of("debit2")}, 1, 'Fibre 1G, last month', 2599
            FROM ({ACCOUNT_VALUES}) AS v WHERE disconnected""",
        "UPDATE invoice_number SET last_number = 2 * $2::bigint WHERE $1::bigint > 0",
    ],
    "addresses": [
        f"""INSERT INTO known_accounts (account_id, archived_at, disconnected_at)
            SELECT i, CASE WHEN archived THEN now() END,
              CASE WHEN disconnected THEN {DISCONNECTED_AT} END
            FROM ({ACCOUNT_VALUES}) AS v""",
        f"""INSERT INTO serviceable_addresses (id, line1, city, subdivision, zip, country,
              normalised, account_id, created_at)
            SELECT {uuid_of("address")}, i || ' ' || split_part(name, ' ', 2) || ' Street',
              city, 'IL', zip, 'US',
              lower(i || ' ' || split_part(name, ' ', 2) || ' st | ' || city || ' | il | ' || zip
                    || ' | us |'),
              CASE WHEN NOT disconnected THEN i END, created
            FROM ({ACCOUNT_VALUES}) AS v,
            LATERAL (SELECT (ARRAY['Springfield', 'Shelbyville', 'Ogdenville', 'Capital City',
                                   'North Haverbrook', 'Brockway'])[1 + h % 6] AS city,
                            lpad((60000 + h % 3000)::text, 5, '0') AS zip) AS a""",
        f"""INSERT INTO address_history (address_id, account_id, action, reason, disconnect_id, at)
            SELECT {uuid_of("address")}, i, 'attach', 'manual', NULL, created
            FROM ({ACCOUNT_VALUES}) AS v
            UNION ALL
            SELECT {uuid_of("address")}, i, 'release', 'disconnect', {uuid_of("disconnect")},
              {DISCONNECTED_AT}
            FROM ({ACCOUNT_VALUES}) AS v WHERE disconnected""",
    ],
    "scheduler": [
        f"""INSERT INTO known_accounts (account_id, archived_at)
            SELECT i, CASE WHEN archived THEN now() END FROM ({ACCOUNT_VALUES}) AS v""",
        f"""INSERT INTO scheduled_events (id, event_type, account_id, run_at, payload, state,
              scheduled_by)
            SELECT {uuid_of("scheduled")}, 'disconnect_account', i,
              now() + interval '1 day' + (h % 7776000) * interval '1 second',
              '{{"reason": "contract ends"}}', 'pending', 'bench'
            FROM ({ACCOUNT_VALUES}) AS v WHERE i % 10 = 5""",
    ],
}


async def secondary_indexes(connection: asyncpg.Connection) -> list[tuple[str, str]]:
    """The indexes that no constraint owns (primary keys and unique constraints stay)."""
    rows = await connection.fetch(
        """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
           FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
           WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary
             AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)"""
    )
    return [(row["name"], row["definition"]) for row in rows]


async def grow(service: str, start: int, end: int) -> dict[str, float]:
    """Seed the accounts [start, end] into one service's database; seconds per step."""
    connection = await asyncpg.connect(url(service), command_timeout=None)
    await connection.execute("SET maintenance_work_mem = '512MB'")
    # The rows agree with each other by construction: no foreign-key trigger per row (superuser).
    await connection.execute("SET session_replication_role = replica")
    timings: dict[str, float] = {}
    began = time.monotonic()
    indexes = await secondary_indexes(connection)
    for name, _ in indexes:
        await connection.execute(f"DROP INDEX {name}")
    for statement in SEED[service]:
        await connection.execute(statement, start, end)
    timings["load_s"] = round(time.monotonic() - began, 1)
    began = time.monotonic()
    for _, definition in indexes:
        await connection.execute(definition)
    timings["indexes_s"] = round(time.monotonic() - began, 1)
    began = time.monotonic()
    await connection.execute("VACUUM ANALYZE")
    timings["vacuum_analyze_s"] = round(time.monotonic() - began, 1)
    timings["database_gib"] = round(
        await connection.fetchval("SELECT pg_database_size(current_database())") / 2**30, 2
    )
    await connection.close()
    return timings


async def seeded_accounts() -> int:
    """How many accounts the bench databases hold (0 when they do not exist)."""
    try:
        connection = await asyncpg.connect(url("accounts"))
    except asyncpg.InvalidCatalogNameError:
        return 0
    try:
        return await connection.fetchval("SELECT coalesce(max(id), 0) FROM accounts")
    except asyncpg.UndefinedTableError:
        return 0
    finally:
        await connection.close()


async def migrate_kept() -> dict[str, float]:
    """Bring kept databases to the head revision; seconds per service."""
    seconds = {}
    for service in SERVICES:
        migrations = REPO / "services" / service / "src" / f"cutover_{service}" / "migrations"
        began = time.monotonic()
        await asyncio.to_thread(
            upgrade, migrations, url(service).replace("postgresql://", "postgresql+asyncpg://")
        )
        seconds[service] = round(time.monotonic() - began, 1)
    await provision_topics(kafka_settings())
    await provision_acls(kafka_settings())
    return seconds


# --- measuring ----------------------------------------------------------------------------------


class Calls:
    """The interactive calls, each a function of the request's number giving (port, path, params);
    a list call follows the cursor its previous page returned."""

    def __init__(self, accounts: int) -> None:
        self.accounts = accounts
        self.cursors: dict[str, str | None] = {}

    def account(self, n: int, *, kind: int | None = None) -> int:
        """A different account for each request, spread over all ids (of one kind: id % 10)."""
        i = 1 + (n * 7_919_447) % self.accounts
        if kind is None:
            return i
        i = i - i % 10 + kind
        return i if i <= self.accounts else i - 10

    def table(self) -> dict[str, Callable[[int], tuple[str, str, dict[str, Any]]]]:
        # Accounts by id % 10: 3 disconnected, 5 with a scheduled disconnect, 9 maybe a parent.
        active, disconnected, scheduled = 1, 3, 5
        since = (datetime.now(UTC) - timedelta(days=7)).isoformat()
        lists = {
            "accounts (default sort: id)": ("accounts", "/accounts", {}),
            "accounts sort=name": ("accounts", "/accounts", {"sort": "name"}),
            "accounts sort=-created_at": ("accounts", "/accounts", {"sort": "-created_at"}),
            "accounts sort=-updated_at": ("accounts", "/accounts", {"sort": "-updated_at"}),
            "accounts sort=-disconnected_at": (
                "accounts", "/accounts", {"sort": "-disconnected_at"},
            ),
            "accounts updated_since (7 days)": ("accounts", "/accounts", {"updated_since": since}),
            "accounts status=Inactive": (
                "accounts", "/accounts", {"account_status_id": str(seeds.INACTIVE)},
            ),
            "accounts status=Lead": (
                "accounts", "/accounts", {"account_status_id": str(seeds.LEAD)},
            ),
            "accounts type=Government": (
                "accounts", "/accounts", {"account_type_id": str(seeds.GOVERNMENT)},
            ),
            "serviceable addresses (default sort)": ("addresses", "/serviceable-addresses", {}),
            "serviceable addresses available=true": (
                "addresses", "/serviceable-addresses", {"available": "true"},
            ),
            "scheduled events state=pending": (
                "scheduler", "/scheduled-events", {"state": "pending"},
            ),
        }  # fmt: skip
        calls: dict[str, Callable[[int], tuple[str, str, dict[str, Any]]]] = {
            name: self._walk(name, *call) for name, call in lists.items()
        }
        for kind, terms in SEARCHES.items():
            calls[f"accounts ?q= ({kind})"] = lambda n, terms=terms: (
                "accounts", "/accounts", {"q": terms[n % len(terms)]},
            )  # fmt: skip
        calls["serviceable addresses ?q= (a street)"] = lambda n: (
            "addresses", "/serviceable-addresses", {"q": LAST[n % len(LAST)].lower()},
        )  # fmt: skip
        per_account = {
            "account": ("accounts", "/accounts/{}", active),
            "disconnect preview": ("accounts", "/accounts/{}/disconnect-preview", scheduled),
            "account history": ("accounts", "/accounts/{}/history", disconnected),
            "account's disconnects": ("accounts", "/accounts/{}/disconnects", disconnected),
            "account's children": ("accounts", "/accounts/{}/children", 9),
            "invoices of an account": ("billing", "/accounts/{}/invoices", disconnected),
            "debits of an account": ("billing", "/accounts/{}/debits", active),
            "uninvoiced of an account": ("billing", "/accounts/{}/uninvoiced", active),
            "address of an account": ("addresses", "/accounts/{}/serviceable-address", active),
            "address history of an account": (
                "addresses", "/accounts/{}/address-history", disconnected,
            ),
            "scheduled events of an account": ("scheduler", "/scheduled-events", scheduled),
        }  # fmt: skip
        for name, (service, path, kind) in per_account.items():
            calls[name] = lambda n, service=service, path=path, kind=kind: (
                service,
                path.format(self.account(n, kind=kind)),
                {"account_id": self.account(n, kind=kind)} if "{}" not in path else {},
            )
        calls["report (JSON, default period, first pages)"] = lambda n: (
            "accounts", "/reports/activations-disconnections", {},
        )  # fmt: skip
        calls["report (JSON, pages of 100, walking)"] = self._report_walk()
        calls["report (JSON, activations_q search)"] = lambda n: (
            "accounts",
            "/reports/activations-disconnections",
            {"activations_q": SEARCHES["rare"][n % 4], "disconnections_q": SEARCHES["rare"][n % 4]},
        )
        return calls

    def _walk(self, name: str, service: str, path: str, params: dict[str, Any]):  # noqa: ANN202
        def call(n: int) -> tuple[str, str, dict[str, Any]]:
            cursor = self.cursors.get(name)
            return service, path, {**params, **({"cursor": cursor} if cursor else {})}

        call.walks = name  # type: ignore[attr-defined]
        return call

    def _report_walk(self):  # noqa: ANN202
        name = "report walk"

        def call(n: int) -> tuple[str, str, dict[str, Any]]:
            cursor = self.cursors.get(name)
            params = {"activations_limit": 100, "disconnections_limit": 100}
            return "accounts", "/reports/activations-disconnections", {
                **params, **({"activations_cursor": cursor} if cursor else {}),
            }  # fmt: skip

        call.walks = name  # type: ignore[attr-defined]
        return call

    def follow(self, call: Any, answer: dict[str, Any]) -> None:
        """Remember where a walking list goes next (from the top again after its last page)."""
        walks = getattr(call, "walks", None)
        if walks is not None:
            key = "activations_next_cursor" if walks == "report walk" else "next_cursor"
            self.cursors[walks] = answer.get(key)


def disk_read_kib() -> int:
    """KiB the machine has read from its disks since it started (`pgpgin`): a request's share is
    what PostgreSQL could not find in memory (nothing else reads during the calls)."""
    with open("/proc/vmstat") as vmstat:
        for line in vmstat:
            if line.startswith("pgpgin "):
                return int(line.split()[1])
    raise RuntimeError("no pgpgin in /proc/vmstat")


def disk_reads(timings: list[float], read_kib: list[int]) -> dict[str, Any]:
    """What a call read from the disk: in all, how many of its requests read anything, and the
    slowest requests' times beside their reads. Whether a slow page waited on the disk is then
    read off the slowest requests, not guessed from the machine's totals."""
    slowest = sorted(zip(timings, read_kib, strict=True), reverse=True)[:SLOWEST]
    return {
        "disk_read_kib": sum(read_kib),
        "requests_reading_disk": sum(1 for kib in read_kib if kib),
        "slowest": [{"ms": round(ms, 1), "disk_read_kib": kib} for ms, kib in slowest],
    }


async def measure_calls(
    client: httpx.AsyncClient, accounts: int, meter: CpuMeter
) -> dict[str, dict]:
    calls = Calls(accounts)
    results = {}
    for name, call in calls.table().items():
        timings: list[float] = []
        read_kib: list[int] = []
        meter.start()
        for n in range(REQUESTS):
            service, path, params = call(n)
            read_before = disk_read_kib()
            began = time.perf_counter()
            response = await client.get(f"http://127.0.0.1:{PORTS[service]}{path}", params=params)
            timings.append((time.perf_counter() - began) * 1000)
            read_kib.append(disk_read_kib() - read_before)
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {path} {params} answered {response.status_code}")
            answer = response.json()
            if name == "disconnect preview" and answer["unavailable"]:
                raise RuntimeError(f"the preview lacked a part: {answer['unavailable']}")
            calls.follow(call, answer)
        cpu = meter.per(REQUESTS)
        # What a call costs the system, from /proc: unlike its latency, hardly moved by neighbours.
        cpu_ms = round(sum(v for part, v in cpu.items() if part in SYSTEM_PARTS), 2)
        results[name] = {
            **percentiles(timings),
            "cpu_ms": cpu_ms,
            "cpu_ms_by_part": cpu,
            **disk_reads(timings, read_kib),
        }
        print(
            f"  {name}: p50 {results[name]['p50']} ms, p99 {results[name]['p99']} ms, "
            f"CPU {cpu_ms} ms, read from disk {results[name]['disk_read_kib']} KiB "
            f"(slowest: {results[name]['slowest']})",
            flush=True,
        )
    return results


async def measure_export(client: httpx.AsyncClient, accounts_pid: int) -> dict:
    """The activations of the default period as one CSV stream, rows/s and memory."""

    async def csv_rows() -> int:
        lines = 0
        async with client.stream(
            "GET",
            f"http://127.0.0.1:{PORTS['accounts']}/reports/activations-disconnections",
            params={"format": "csv", "table": "activations"},
        ) as response:
            response.raise_for_status()
            async for _ in response.aiter_lines():
                lines += 1
        return lines - 1  # the header

    result = await measured(accounts_pid, csv_rows)
    result["rows_per_second"] = (
        round(result["rows"] / result["seconds"]) if result["seconds"] else 0
    )
    return result


def table(document: dict) -> str:
    sizes = [run["accounts"] for run in document["runs"]]
    lines = [
        "| call | "
        + " | ".join(f"{size:,}: p50 / p99 ms (CPU ms per call)" for size in sizes)
        + " |",
        "| --- |" + " --- |" * len(sizes),
    ]
    for name in document["runs"][0]["calls"]:
        cells = []
        for run in document["runs"]:
            figure = run["calls"].get(name)
            mark = " ✗" if figure and figure["p99"] > TARGET_P99_MS else ""
            cells.append(
                f"{figure['p50']} / {figure['p99']}{mark} ({figure.get('cpu_ms', '—')})"
                if figure
                else "—"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    exports = [run["csv_export"] for run in document["runs"]]
    lines.append(
        "| CSV export of the activations (rows, rows/s, RSS peak above before) | "
        + " | ".join(
            f"{e['rows']:,} rows, {e['rows_per_second']:,}/s, +{e['rss_peak_above_before_mib']} MiB"
            for e in exports
        )
        + " |"
    )
    return "\n".join(lines)


async def main() -> None:
    print("starting Kafka and PostgreSQL in .local/bench ...", flush=True)
    infra("start")
    processes: list[subprocess.Popen] = []
    runs = []
    migrations_s = None
    try:
        have = await seeded_accounts() if KEEP else 0
        if have and have in SCALES:
            print(f"keeping the {have:,} accounts seeded before; migrating ...", flush=True)
            migrations_s = await migrate_kept()
        else:
            have = 0
            await fresh_databases()
        processes = start_services()
        meter = CpuMeter(dict(zip(SERVICES, processes, strict=True)))
        client = httpx.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=300)
        for size in SCALES:
            seeding = None
            if size > have:
                print(f"seeding accounts {have + 1:,} to {size:,} ...", flush=True)
                began = time.monotonic()
                steps = await asyncio.gather(*(grow(s, have + 1, size) for s in SERVICES))
                seeding = {
                    "seconds": round(time.monotonic() - began, 1),
                    "from": have + 1,
                    **dict(zip(SERVICES, steps, strict=True)),
                }
                print(json.dumps(seeding), flush=True)
                have = size
            elif size < have:
                print(f"skipping {size:,}: the databases already hold {have:,}", flush=True)
                continue
            print(f"measuring at {size:,} accounts ...", flush=True)
            run = {
                "accounts": size,
                "seeding": seeding,
                "calls": await measure_calls(client, size, meter),
                "csv_export": await measure_export(client, processes[0].pid),
            }
            print(json.dumps(run["csv_export"]), flush=True)
            runs.append(run)
        await client.aclose()
    finally:
        stop_services(processes)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "requests_per_call": REQUESTS,
        "target_p99_ms": TARGET_P99_MS,
        "kept_databases_migrated_s": migrations_s,
        "runs": runs,
    }
    out = write_result("data-scale.json", document)
    print(table(document))
    print(f"written to {out.relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
