"""`make bench-disconnects`: the disconnect workflow under load, through the HTTP API.

Starts Kafka and PostgreSQL in `.local/bench`, the four services as processes, and seeds W + M
accounts (default 4,000 + 20,000), each with three debits and a serviceable address, straight into
the services' databases (seeding through the API would take longer than the benchmark; the rows are
the ones the services write). Then:
- warm-up: disconnect the W first as fast as the API accepts them; reported (`warmup`), not counted
  in what follows;
- throughput: disconnect the next M − rate × seconds accounts as fast as the API accepts them
  (bounded concurrency, default 64) and count completions on `accounts.account-disconnected.v1`;
- latency: disconnect the rest at a fixed offered rate (default 200/s for 60 s) and measure, per
  disconnect, the HTTP response time and the end-to-end time from sending the request to the
  `account-disconnected` event (its record timestamp).
Both report the CPU time each part of the system (the four services, Kafka, PostgreSQL) spent per
completed disconnect, read from /proc: unlike a rate, it hardly moves when something else shares
the machine, and it shows which part to make cheaper. Kafka's share is also split out for its JIT
compiler threads (`kafka JIT`): the broker starts with the bench, and compiling its hot code is most
of what it spends in the first minutes. Results go to bench/results/disconnects.json.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx
import uvloop
from aiokafka import AIOKafkaConsumer

from bench.common import (
    POSTGRES,
    REPO,
    SLOT,
    STATE,
    infra,
    kafka_env,
    kafka_options,
    kafka_settings,
    machine,
    percentiles,
    reference_loop_seconds,
    write_result,
)
from cutover_contracts import seeds
from cutover_contracts.topics import ACCOUNT_DISCONNECTED, SERVICES
from cutover_kit.kafka import provision_acls, provision_topics
from cutover_kit.migrations import upgrade

PORTS = {
    service: port + 100 * SLOT
    for service, port in {
        "accounts": 28001,
        "billing": 28002,
        "addresses": 28003,
        "scheduler": 28004,
    }.items()
}
TOKEN = "bench-token"
ACCOUNTS = int(os.environ.get("BENCH_ACCOUNTS", "20000"))
# Disconnected first and not measured: the broker (started with the bench) JIT-compiles its hot
# code under the first load, which a broker in service did long before.
WARMUP = int(os.environ.get("BENCH_WARMUP", "4000"))
RATE = int(os.environ.get("BENCH_RATE", "200"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "60"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
ACCOUNTS_WORKERS = os.environ.get("ACCOUNTS_WORKERS", "1")
RESIDENTIAL, ACTIVE = str(seeds.RESIDENTIAL), str(seeds.ACTIVE)


def url(service: str) -> str:
    return f"postgresql://postgres@{POSTGRES}/bench_{service}"


async def fresh_databases() -> None:
    admin = await asyncpg.connect(f"postgresql://postgres@{POSTGRES}/postgres")
    for service in SERVICES:
        await admin.execute(f"DROP DATABASE IF EXISTS bench_{service} WITH (FORCE)")
        await admin.execute(f"CREATE DATABASE bench_{service}")
    await admin.close()
    for service in SERVICES:
        migrations = REPO / "services" / service / "src" / f"cutover_{service}" / "migrations"
        await asyncio.to_thread(
            upgrade, migrations, url(service).replace("postgresql://", "postgresql+asyncpg://")
        )
    await provision_topics(kafka_settings())
    await provision_acls(kafka_settings())


async def seed(count: int) -> None:
    now = datetime.now(UTC)
    ids = range(1, count + 1)
    accounts = await asyncpg.connect(url("accounts"))
    await accounts.copy_records_to_table(
        "accounts",
        records=[
            (i, f"Bench {i}", uuid.UUID(RESIDENTIAL), uuid.UUID(ACTIVE), now, now, now) for i in ids
        ],
        columns=[
            "id",
            "name",
            "account_type_id",
            "account_status_id",
            "activated_at",
            "created_at",
            "updated_at",
        ],
    )
    await accounts.execute(f"SELECT setval('accounts_id_seq', {count})")
    await accounts.close()
    billing = await asyncpg.connect(url("billing"))
    await billing.copy_records_to_table(
        "known_accounts", records=[(i,) for i in ids], columns=["account_id"]
    )
    await billing.copy_records_to_table(
        "debits",
        records=[(uuid.uuid4(), i, 1000 + n, "USD", "Fibre 1G") for i in ids for n in range(3)],
        columns=["id", "account_id", "amount", "currency", "description"],
    )
    await billing.close()
    addresses = await asyncpg.connect(url("addresses"))
    await addresses.copy_records_to_table(
        "known_accounts", records=[(i,) for i in ids], columns=["account_id"]
    )
    await addresses.copy_records_to_table(
        "serviceable_addresses",
        records=[
            (
                uuid.uuid4(),
                f"{i} Bench St",
                "Springfield",
                "IL",
                "62701",
                "US",
                f"{i} bench st | springfield | il | 62701 | us |",
                i,
            )
            for i in ids
        ],
        columns=[
            "id",
            "line1",
            "city",
            "subdivision",
            "zip",
            "country",
            "normalised",
            "account_id",
        ],
    )
    await addresses.close()


def start_services() -> list[subprocess.Popen]:
    env = {
        **os.environ,
        "CUTOVER_API_TOKEN": TOKEN,
        # The load generator is the break-glass actor: its own limit, far above a person's.
        "CUTOVER_RATE_LIMITS": "operator=10000000",
        "CUTOVER_LOG_LEVEL": "WARNING",
        # Accounts answers every request and applies both answers: the one service near a whole
        # core at this load, so the one whose worker count is a knob here.
        "ACCOUNTS_WORKERS": ACCOUNTS_WORKERS,
        **{
            f"{s.upper()}_DATABASE_URL": url(s).replace("postgresql://", "postgresql+asyncpg://")
            for s in SERVICES
        },
        **{f"{s.upper()}_PORT": str(p) for s, p in PORTS.items()},
        **{f"{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in PORTS.items()},
    }
    log_dir = STATE / "log"
    log_dir.mkdir(parents=True, exist_ok=True)
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", f"cutover_{s}", "serve"],
            env={**env, **kafka_env(s)},  # each service as its own Kafka principal
            stdout=(log_dir / f"{s}.log").open("w"),
            stderr=subprocess.STDOUT,
        )
        for s in SERVICES
    ]
    for service, port in PORTS.items():
        # Generous: on a machine shared with other runs a service has taken over a minute to start.
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service} not ready")
            time.sleep(0.2)
    return processes


def stop_services(processes: list[subprocess.Popen]) -> None:
    """Stop the services started by `start_services`, then the bench's Kafka and PostgreSQL."""
    for process in processes:
        process.terminate()
        process.wait(timeout=20)
    infra("stop")


class Completions:
    """Every `account-disconnected` event from now on: account id → record timestamp (ms)."""

    def __init__(self) -> None:
        self.at: dict[int, int] = {}
        self.consumer = AIOKafkaConsumer(
            ACCOUNT_DISCONNECTED.name,
            **kafka_options(),
            auto_offset_reset="latest",
            group_id=f"bench-{uuid.uuid4()}",
            enable_auto_commit=False,
        )

    async def start(self) -> None:
        await self.consumer.start()
        while not self.consumer.assignment():
            await self.consumer.getmany(timeout_ms=100)
        for partition in self.consumer.assignment():
            await self.consumer.seek_to_end(partition)
            await self.consumer.position(partition)
        self.task = asyncio.create_task(self._collect())

    async def _collect(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=200, max_records=5000)).values():
                for record in records:
                    self.at[int(record.key)] = record.timestamp

    async def wait(self, ids: list[int], within: float) -> None:
        deadline = time.monotonic() + within
        while any(i not in self.at for i in ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        self.task.cancel()
        await self.consumer.stop()


TICKS = os.sysconf("SC_CLK_TCK")


def _times_of(pid: int, stat: str = "stat") -> tuple[float, float]:
    """User + system CPU seconds of one process, and of its children that ended and were reaped
    (the kernel adds them to the parent's); zeros when it is gone. `stat="task/<thread id>/stat"`
    gives one thread's own (`/proc/<thread id>/stat` is the process's)."""
    try:
        fields = Path(f"/proc/{pid}/{stat}").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0, 0.0
    own = int(fields[11]) + int(fields[12])  # utime, stime
    reaped = int(fields[13]) + int(fields[14])  # cutime, cstime
    return own / TICKS, reaped / TICKS


def _cpu_of(pid: int, stat: str = "stat") -> float:
    """User + system CPU seconds of one process (or thread, see `_times_of`); 0 when it is gone."""
    return _times_of(pid, stat)[0]


def _jit_cpu_of(pid: int) -> float:
    """User + system CPU seconds of a JVM's JIT compiler threads (HotSpot names them `C1
    CompilerThre…` and `C2 CompilerThre…`). A broker started for the bench compiles its hot code
    while the bench runs, which a broker in service did long before. On more cores HotSpot may
    retire an extra compiler thread, whose time then goes uncounted here (never on two cores: one
    thread of each kind, which it keeps)."""
    compilers = []
    for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
        try:
            if (task / "comm").read_text().startswith(("C1 CompilerThre", "C2 CompilerThre")):
                compilers.append(task.name)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return sum(_cpu_of(pid, f"task/{thread}/stat") for thread in compilers)


def children_of(parent: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == parent:
                children.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return children


def _postgres_cpu(postmaster: int) -> float:
    """PostgreSQL's CPU seconds: the postmaster's own, its backends alive and those it reaped. A
    backend reaped while the backends are listed would count twice or not at all (a harness's pool
    closing as a round ended gave the next round that pool's CPU: a pg-boss round of bench-peers
    read its own processes 10 s above the whole machine), so the listing is done again until no
    backend was reaped during it."""
    while True:
        _, reaped = _times_of(postmaster)
        alive = sum(_cpu_of(pid) for pid in children_of(postmaster))
        own, reaped_after = _times_of(postmaster)
        if reaped_after == reaped:
            return own + reaped + alive


def rss_mib(pid: int) -> float:
    """Resident memory of a process and its children (uvicorn workers), MiB."""
    total = 0
    for candidate in [pid, *children_of(pid)]:
        try:
            for line in Path(f"/proc/{candidate}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total / 1024


def pss_mib(pids: list[int]) -> float:
    """Proportional memory of several processes, MiB: PostgreSQL's backends all map its shared
    buffers, so the sum of their RSS would count those buffers once per backend."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return total / 1024


class CpuMeter:
    """CPU seconds spent by each part of the system between `start` and `stop`. PostgreSQL counts
    its postmaster, every backend alive, and the backends that ended: a backend's CPU moves to the
    postmaster's reaped children's when its connection closes, so it is neither lost nor, as a
    backend alive at the first reading and gone at the second, subtracted (which made a run whose
    harness closed its pool read negative)."""

    def __init__(self, services: dict[str, subprocess.Popen]) -> None:
        self.services = {name: process.pid for name, process in services.items()}
        self.kafka = int((STATE / "run" / "kafka.pid").read_text().split()[0])
        self.postmaster = int((STATE / "pg" / "postmaster.pid").read_text().split()[0])

    def _read(self) -> dict[str, float]:
        # user + nice + system + irq + softirq of every core: what the parts add up to, plus what
        # they miss (processes that ended between the readings, the kernel's own work)
        user, nice, system, _idle, _iowait, irq, softirq = map(
            int, Path("/proc/stat").read_text().split()[1:8]
        )
        busy = user + nice + system + irq + softirq
        return {
            "whole machine": busy / TICKS,
            # A service run with several workers is a supervisor and its worker processes.
            **{
                name: sum(_cpu_of(p) for p in (pid, *children_of(pid)))
                for name, pid in self.services.items()
            },
            "kafka": _cpu_of(self.kafka),
            # Part of Kafka's: its JIT compiling the broker's code, a cost of starting it.
            "kafka JIT": _jit_cpu_of(self.kafka),
            "postgres": _postgres_cpu(self.postmaster),
            "load generator": _cpu_of(os.getpid()),
        }

    def start(self) -> None:
        self.before = self._read()

    def memory(self) -> dict[str, float]:
        """Resident memory of each part now, MiB (PostgreSQL: its processes' proportional sum)."""
        return {
            **{name: rss_mib(pid) for name, pid in self.services.items()},
            "kafka": rss_mib(self.kafka),
            "postgres": pss_mib([self.postmaster, *children_of(self.postmaster)]),
            "load generator": rss_mib(os.getpid()),
        }

    def seconds(self) -> dict[str, float]:
        """CPU seconds each part spent since `start`, unrounded."""
        after = self._read()
        return {part: after[part] - self.before[part] for part in after}

    def per(self, completed: int) -> dict[str, float]:
        """Milliseconds of CPU per completed disconnect, by part."""
        spent = self.seconds()
        return (
            {part: round(seconds * 1000 / completed, 2) for part, seconds in spent.items()}
            if completed
            else {}
        )


class MemorySampler:
    """The memory of every part, sampled each second while a phase runs."""

    def __init__(self, meter: CpuMeter) -> None:
        self.meter = meter
        self.samples: list[tuple[float, dict[str, float]]] = []

    async def __aenter__(self) -> MemorySampler:
        started = time.monotonic()

        async def sample() -> None:
            while True:
                reading = await asyncio.to_thread(self.meter.memory)
                self.samples.append((time.monotonic() - started, reading))
                await asyncio.sleep(1.0)

        self.task = asyncio.create_task(sample())
        return self

    async def __aexit__(self, *_: object) -> None:
        self.task.cancel()

    def summary(self) -> dict:
        parts = self.samples[0][1] if self.samples else {}
        return {
            "rss_mib": {
                part: {
                    "first": round(self.samples[0][1][part], 1),
                    "peak": round(max(s[part] for _, s in self.samples), 1),
                    "last": round(self.samples[-1][1][part], 1),
                }
                for part in parts
            },
            "rss_samples": [
                {"second": round(t, 1), **{part: round(v, 1) for part, v in s.items()}}
                for t, s in self.samples
            ],
        }


async def throughput(
    client: Disconnector, done: Completions, meter: CpuMeter, ids: list[int]
) -> dict:
    queue = iter(ids)
    refused = 0

    async def worker() -> None:
        nonlocal refused
        for account_id in queue:
            refused += await client.disconnect(account_id) != 202

    meter.start()
    started = time.time()
    async with MemorySampler(meter) as memory:
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        accepted_s = time.time() - started
        await done.wait(ids, within=300)
    completed = [done.at[i] for i in ids if i in done.at]
    elapsed = (max(completed) / 1000 - started) if completed else None
    return {
        "disconnects": len(ids),
        "concurrency": CONCURRENCY,
        "refused": refused,
        "completed": len(completed),
        "accepted_per_second": round(len(ids) / accepted_s),
        "completed_per_second": round(len(completed) / elapsed) if elapsed else None,
        "seconds": round(elapsed, 2) if elapsed else None,
        "cpu_ms_per_disconnect": meter.per(len(completed)),
        "memory": memory.summary(),
    }


async def latency(client: Disconnector, done: Completions, meter: CpuMeter, ids: list[int]) -> dict:
    sent: dict[int, float] = {}
    http_ms: list[float] = []

    async def one(account_id: int, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        sent[account_id] = time.time()
        began = time.perf_counter()
        await client.disconnect(account_id)
        http_ms.append((time.perf_counter() - began) * 1000)

    meter.start()
    t0 = time.monotonic() + 0.5
    await asyncio.gather(*(one(i, t0 + n / RATE) for n, i in enumerate(ids)))
    await done.wait(ids, within=120)
    e2e = [done.at[i] - sent[i] * 1000 for i in ids if i in done.at]
    cpu = meter.per(len(e2e))
    return {
        "offered_per_second": RATE,
        "seconds": SECONDS,
        "disconnects": len(ids),
        "completed": len(e2e),
        "end_to_end_ms": percentiles(e2e),
        "http_ms": percentiles(http_ms),
        "cpu_ms_per_disconnect": cpu,
        "stages_ms": await stages(sent),
    }


OUTBOX_OF = "SELECT topic, key, created_at, published_at FROM outbox WHERE key = ANY($1::text[])"


async def stages(sent: dict[int, float]) -> dict[str, dict[str, float | None]]:
    """Where a disconnect's time went, hop by hop, in ms from the moment the bench sent its
    request: for every event a service wrote about the account, when the transaction that wrote it
    began (the outbox row's `created_at`) and when its relay claimed it (`published_at`), and
    when accounts completed the disconnect. Read after the phase, from the services' databases
    (the host's one clock), so it costs the measured system nothing while it runs."""
    keys = [str(account_id) for account_id in sent]
    spans: dict[str, list[float]] = {}

    def since_sent(account_id: int, moment: datetime) -> float:
        return moment.timestamp() * 1000 - sent[account_id] * 1000

    for service in SERVICES:
        connection = await asyncpg.connect(url(service))
        try:
            for row in await connection.fetch(OUTBOX_OF, keys):
                account_id = int(row["key"])
                for column in ("created_at", "published_at"):
                    if row[column] is not None:
                        spans.setdefault(f"{row['topic']} {column}", []).append(
                            since_sent(account_id, row[column])
                        )
            if service == "accounts":
                for row in await connection.fetch(
                    "SELECT account_id, completed_at FROM disconnects"
                    " WHERE account_id = ANY($1::bigint[]) AND completed_at IS NOT NULL",
                    list(sent),
                ):
                    spans.setdefault("disconnect completed_at", []).append(
                        since_sent(row["account_id"], row["completed_at"])
                    )
        finally:
            await connection.close()
    ordered = sorted(spans.items(), key=lambda span: statistics.median(span[1]))
    return {name: percentiles(values) for name, values in ordered}


class Disconnector:
    """POSTs disconnects over kept-alive HTTP/1.1 connections, at most CONCURRENCY at once.

    Written against asyncio streams rather than with an HTTP client library: the load generator
    shares the two cores with the system it measures, and httpx cost it about 2 ms of CPU a request
    (measured with the CPU meter), as much as the accounts service spent answering."""

    def __init__(self) -> None:
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.slots = asyncio.Semaphore(CONCURRENCY)

    async def disconnect(self, account_id: int) -> int:
        """The response's status code."""
        async with self.slots:
            if self.idle.empty():
                reader, writer = await asyncio.open_connection("127.0.0.1", PORTS["accounts"])
            else:
                reader, writer = self.idle.get_nowait()
            writer.write(
                f"POST /accounts/{account_id}/disconnect HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: 0\r\n\r\n".encode()
            )
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            self.idle.put_nowait((reader, writer))
            return status

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


def chart(document: dict, out: Path) -> None:
    """Where a disconnect's CPU goes at full throughput, the latencies at the offered rate, and
    each part's memory during the throughput run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    first, second = document["throughput"], document["latency"]
    figure, (left, right, memory) = plt.subplots(1, 3, figsize=(16, 4.2))
    parts = first["cpu_ms_per_disconnect"]
    bars = left.barh(list(parts), list(parts.values()), color="#1f6f4a")
    left.bar_label(bars, labels=[f"{v:.2f}" for v in parts.values()], fontsize=8)
    left.invert_yaxis()
    left.set_title(
        f"CPU ms per disconnect at {first['completed_per_second']}/s completed "
        f"(whole machine {parts['whole machine']:.1f} ms)",
        fontsize=9,
    )
    left.margins(x=0.2)
    width = 0.38
    kinds = [("end_to_end_ms", "HTTP request to AccountDisconnected"), ("http_ms", "HTTP response")]
    for offset, key, colour in ((-width / 2, "p50", "#4c8bbf"), (width / 2, "p99", "#d9822b")):
        values = [second[kind][key] or 0 for kind, _ in kinds]
        bars = right.bar(
            [n + offset for n in range(len(kinds))], values, width, label=key, color=colour
        )
        right.bar_label(bars, labels=[f"{v:,.0f}" for v in values], fontsize=8)
    right.set_xticks(range(len(kinds)), [label for _, label in kinds])
    right.set_ylabel("ms (lower is better)")
    right.set_title(
        f"Latency at {second['offered_per_second']}/s offered for {second['seconds']} s", fontsize=9
    )
    right.legend()
    samples = first["memory"]["rss_samples"]
    for part in first["memory"]["rss_mib"]:
        memory.plot([s["second"] for s in samples], [s[part] for s in samples], label=part)
    memory.set_xlabel("seconds into the throughput run")
    memory.set_ylabel("MiB resident (PostgreSQL: proportional)")
    memory.set_title("Memory of each part during the throughput run", fontsize=9)
    memory.legend(fontsize=7)
    figure.suptitle(
        f"Disconnects through the API, {document['accounts']:,} accounts; "
        f"{document['date'][:10]}, {document['machine']['summary']}",
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)


async def main() -> None:
    reference_before = reference_loop_seconds()
    print(f"reference loop: {reference_before} s of CPU", flush=True)
    print("starting Kafka and PostgreSQL in .local/bench ...", flush=True)
    infra("start")
    processes: list[subprocess.Popen] = []
    try:
        await fresh_databases()
        print(f"seeding {WARMUP + ACCOUNTS} accounts ...", flush=True)
        await seed(WARMUP + ACCOUNTS)
        processes = start_services()
        meter = CpuMeter(dict(zip(SERVICES, processes, strict=True)))
        done = Completions()
        await done.start()
        latency_count = RATE * SECONDS
        ids = list(range(1, WARMUP + ACCOUNTS + 1))
        warmup_ids, ids = ids[:WARMUP], ids[WARMUP:]
        # A client per phase: the server closes connections left idle between the phases.
        client = Disconnector()
        warmup = None
        if warmup_ids:
            print(f"warm-up: {len(warmup_ids)} disconnects, not counted below ...", flush=True)
            warmup = await throughput(client, done, meter, warmup_ids)
            warmup.pop("memory")
            print(json.dumps(warmup), flush=True)
            await client.close()
            client = Disconnector()
        print(f"throughput: {len(ids) - latency_count} disconnects ...", flush=True)
        first = await throughput(client, done, meter, ids[: len(ids) - latency_count])
        print(json.dumps(first), flush=True)
        await client.close()
        client = Disconnector()
        print(f"latency: {RATE}/s for {SECONDS} s ...", flush=True)
        second = await latency(client, done, meter, ids[len(ids) - latency_count :])
        print(json.dumps(second), flush=True)
        await client.close()
        await done.stop()
    finally:
        stop_services(processes)
    document = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        # The host's speed before and after the run (`reference_loop_seconds`): lower is faster.
        "reference_loop_s": {"before": reference_before, "after": reference_loop_seconds()},
        "accounts": ACCOUNTS,
        "accounts_workers": int(ACCOUNTS_WORKERS),
        "warmup": warmup,
        "throughput": first,
        "latency": second,
    }
    out = write_result("disconnects.json", document)
    chart(document, out.with_suffix(".png"))
    print(f"written to {out.relative_to(REPO)} and {out.with_suffix('.png').relative_to(REPO)}")


if __name__ == "__main__":
    uvloop.run(main())
