"""`make chaos`: the cluster stack under steady load while something dies or freezes every 30 s.

For CUTOVER_CHAOS_SECONDS (default 900) a load generator creates accounts (each with one to three
debits, a third with a serviceable address) and disconnects them, half at once and half by a
scheduled event due 10-60 s later, through the proxy, retrying what a client may retry (503, 502,
504, a broken connection; every POST has an Idempotency-Key). Meanwhile, every 30 s, one process
picked at random is killed (SIGKILL) or stopped (SIGSTOP) and, a few seconds later, restarted or
continued: a Kafka broker, a service replica, the replica whose outbox relay leads its service, or
PostgreSQL itself (the postmaster and every backend). The schedule follows from CUTOVER_CHAOS_SEED
(printed; random when unset), so a run can be repeated.

Then, with everything back, it waits for the work to finish and reads every database and the
topics (tests/cluster/workload.py's `check_end_state`): disconnects lost or doubled, final invoices
missing, doubled or wrong, addresses not released, scheduled events early or missing, dead
letters. All must be zero: the exit code is 1 otherwise. It writes
.local/cluster[-N]-chaos-report.json (what was killed or stopped, when and for how long, and the
counts) and a short .txt beside it. It starts its own cluster stack from a clean state on the
cluster test's ports and state dir (CUTOVER_TEST_SLOT moves them) and stops it at the end."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cutover_contracts.topics import SERVICES
from tests.cluster.stack import REPLICAS, REPO, STATE, Cluster, started
from tests.cluster.workload import (
    FAILURES,
    Load,
    Sent,
    UnexpectedAnswer,
    all_completed,
    attach_address,
    check_end_state,
    create_account,
    post_debit,
    request_disconnect,
    schedule_disconnect,
)

SECONDS = int(os.environ.get("CUTOVER_CHAOS_SECONDS", "900"))
EVERY = 30  # s between the starts of two faults
DOWN = (2.0, 12.0)  # s a process stays dead or stopped, at random
PACE = 0.5  # s between two new accounts
FLOWS = 64  # accounts in progress at most (a stalled system slows the pace instead)
BASE_ID = 2_000_000
REPORT = STATE.parent / f"{STATE.name}-chaos-report.json"
KINDS = ("broker", "replica", "relay leader", "postgres")


@dataclass
class Fault:
    """One fault of the schedule, and what happened when it was applied."""

    kind: str
    action: str  # kill (SIGKILL, then started again) or stop (SIGSTOP, then SIGCONT)
    choice: str  # the broker's number, the replica, the relay's service, or "postgres"
    down_seconds: float
    target: str = ""  # what it hit: "kafka-2", "billing-1", "postgres (pid 123 + 14 backends)"
    at_seconds: float = 0.0  # after the start of the load
    back_after_seconds: float = 0.0  # from the signal until it was back (restarted: ready)
    note: str = ""


def schedule(seed: int, seconds: int) -> list[Fault]:
    rng = random.Random(seed)
    faults = []
    for _ in range(max(0, (seconds - 20) // EVERY)):
        kind = rng.choice(KINDS)
        choice = {
            "broker": str(rng.randint(1, 3)),
            "replica": rng.choice(REPLICAS),
            "relay leader": rng.choice(SERVICES),
            "postgres": "postgres",
        }[kind]
        faults.append(
            Fault(kind, rng.choice(("kill", "stop")), choice, round(rng.uniform(*DOWN), 1))
        )
    return faults


def pid_in(path: Path) -> int:
    return int(path.read_text().split()[0])


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie not reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


async def signal_and_wait(pids: list[int], signum: signal.Signals) -> None:
    for pid in pids:
        with suppress(ProcessLookupError):
            os.kill(pid, signum)
    if signum == signal.SIGKILL:
        while not all(gone(pid) for pid in pids):
            await asyncio.sleep(0.05)


def postgres_pids() -> list[int]:
    """The postmaster and its children (the backends and background workers)."""
    postmaster = pid_in(STATE / "pg" / "postmaster.pid")
    children = subprocess.run(
        ["pgrep", "-P", str(postmaster)], capture_output=True, text=True, check=False
    ).stdout.split()
    return [postmaster, *map(int, children)]


async def apply(cluster: Cluster, fault: Fault) -> None:
    """Kills or stops the fault's process, waits its down time, brings it back."""
    restart: list[str] | None = None
    if fault.kind == "broker":
        fault.target = f"kafka-{fault.choice}"
        pids = [pid_in(STATE / "run" / f"{fault.target}.pid")]
        restart = ["kafka", "start-node", fault.choice]
    elif fault.kind == "postgres":
        pids = postgres_pids()
        fault.target = f"postgres (pid {pids[0]} and {len(pids) - 1} children)"
        restart = ["postgres"]
    else:
        replica = fault.choice
        if fault.kind == "relay leader":
            replica = (await cluster.relay_lease(fault.choice))[1] or ""
            if not replica:
                fault.note = f"no relay leader of {fault.choice} found: nothing done"
                return
        fault.target = replica
        pids = [pid_in(STATE / "run" / f"{replica}.pid")]
        restart = ["stack", "start-replica", replica]
    signum = signal.SIGKILL if fault.action == "kill" else signal.SIGSTOP
    began = time.monotonic()
    await signal_and_wait(pids, signum)
    await asyncio.sleep(fault.down_seconds)
    if fault.action == "stop":
        await signal_and_wait(pids, signal.SIGCONT)
    elif restart[0] == "kafka":
        await asyncio.to_thread(cluster.kafka, *restart[1:])
    elif restart[0] == "stack":
        await asyncio.to_thread(cluster.stack, *restart[1:])
    else:
        await asyncio.to_thread(
            subprocess.run, [REPO / "infra" / "postgres.sh", "start"], env=cluster.env, check=True
        )
    fault.back_after_seconds = round(time.monotonic() - began, 1)


async def bring_everything_back(cluster: Cluster) -> None:
    """Whatever a fault left stopped or dead (a run interrupted, a restart that failed) continued
    or started again; each start is a no-op for what runs."""
    for pid_file in (STATE / "run").glob("*.pid"):
        with suppress(ProcessLookupError, ValueError):
            os.kill(pid_in(pid_file), signal.SIGCONT)
    with suppress(FileNotFoundError, ProcessLookupError, ValueError):
        await signal_and_wait(postgres_pids(), signal.SIGCONT)
    await asyncio.to_thread(
        subprocess.run, [REPO / "infra" / "postgres.sh", "start"], env=cluster.env, check=True
    )
    for node in ("1", "2", "3"):
        await asyncio.to_thread(cluster.kafka, "start-node", node)
    for replica in REPLICAS:
        await asyncio.to_thread(cluster.stack, "start-replica", replica)


@dataclass
class Generated:
    """What the load generator did."""

    sent: list[Sent] = field(default_factory=list)
    accounts_started: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)


async def generate(cluster: Cluster, load: Load, seed: int, until: float, out: Generated) -> None:
    gate = asyncio.Semaphore(FLOWS)
    async with (
        cluster.client("accounts") as accounts,
        cluster.client("billing") as billing,
        cluster.client("addresses") as addresses,
        cluster.client("scheduler") as scheduler,
    ):

        async def flow(n: int) -> None:
            rng = random.Random(seed * 1_000_003 + n)
            account_id = BASE_ID + n
            step = "account"
            try:
                await create_account(load, accounts, account_id)
                step = "debits"
                amounts = [rng.randint(100, 9999) for _ in range(rng.randint(1, 3))]
                for k, amount in enumerate(amounts):
                    await post_debit(load, billing, account_id, amount, f"d-{account_id}-{k}")
                has_address = rng.random() < 1 / 3
                if has_address:
                    step = "address"
                    await attach_address(load, addresses, account_id)
                if rng.random() < 0.5:
                    step = "disconnect"
                    await asyncio.sleep(rng.uniform(0, 5))
                    await request_disconnect(load, accounts, account_id, f"x-{account_id}", "chaos")
                    source = "manual"
                else:
                    step = "schedule"
                    run_at = datetime.now(UTC) + timedelta(seconds=rng.uniform(10, 60))
                    await schedule_disconnect(load, scheduler, account_id, run_at, "chaos")
                    source = "scheduled"
                out.sent.append(Sent(account_id, source, sum(amounts), has_address))
            except UnexpectedAnswer as error:
                # Not sent as far as the load knows: left out of the check, and reported
                out.failed.append(
                    {"account_id": account_id, "step": step, "error": str(error)[:300]}
                )
            finally:
                gate.release()

        flows = []
        n = 0
        while time.monotonic() < until:
            await gate.acquire()
            flows.append(asyncio.create_task(flow(n)))
            n += 1
            out.accounts_started = n
            await asyncio.sleep(PACE)
        await asyncio.gather(*flows)


async def inflict(cluster: Cluster, faults: list[Fault], began: float, until: float) -> None:
    """The faults in turn, one at a time: the k-th at 30·k - 10 s into the load, or, when an
    earlier one's recovery ran past that, as soon as the previous one is back (they then follow
    closely until the schedule has caught up, keeping one every 30 s on average); none once the
    load has ended (when recoveries ran long, the last ones of the schedule are left out)."""
    for number, fault in enumerate(faults, start=1):
        await asyncio.sleep(max(0.0, began + number * EVERY - 10 - time.monotonic()))
        if time.monotonic() >= until:
            fault.note = "not applied: the load had ended"
            continue
        fault.at_seconds = round(time.monotonic() - began, 1)
        try:
            await apply(cluster, fault)
        except Exception as error:  # recorded; the run goes on and the checker judges
            fault.note = f"{type(error).__name__}: {error}"[:300]
        print(
            f"chaos: {fault.at_seconds:7.1f} s  {fault.action:4} {fault.target or fault.choice}"
            f"  down {fault.down_seconds} s, back after {fault.back_after_seconds} s"
            f"{'  (' + fault.note + ')' if fault.note else ''}",
            flush=True,
        )


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True).stdout
    return head + ("-dirty" if dirty else "")


def summary(report: dict[str, Any]) -> str:
    kinds: dict[str, int] = {}
    applied = [fault for fault in report["faults"] if fault["target"]]  # at_seconds: from the
    # load's start (load_started_at)
    for fault in applied:
        label = f"{fault['action']} {fault['kind']}"
        kinds[label] = kinds.get(label, 0) + 1
    load = report["load"]
    lines = [
        f"chaos run {report['date']} at {report['commit']}, seed {report['seed']},"
        f" {report['seconds']} s: {report['command']}",
        f"faults: {len(applied)} of the {len(report['faults'])} scheduled ("
        + ", ".join(f"{n} {label}" for label, n in sorted(kinds.items()))
        + ")",
        f"load: {load['accounts_started']} accounts, {load['manual']} disconnected at once,"
        f" {load['scheduled']} by a scheduled event, {load['failed']} given up;"
        f" {load['requests']} requests, retried {load['retried']}",
        f"all work done {report['finished_seconds_after_load']} s after the load stopped",
        "checker: " + ", ".join(f"{kind} {n}" for kind, n in report["checker"].items()),
        "result: " + ("PASS (every count zero)" if report["passed"] else "FAIL"),
    ]
    return "\n".join(lines) + "\n"


async def run(seed: int) -> bool:
    faults = schedule(seed, SECONDS)
    report: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": commit(),
        "command": f"CUTOVER_TEST_SLOT={os.environ.get('CUTOVER_TEST_SLOT', '0')}"
        f" CUTOVER_CHAOS_SECONDS={SECONDS} CUTOVER_CHAOS_SEED={seed} make chaos",
        "seed": seed,
        "seconds": SECONDS,
    }
    with started() as cluster:
        load = Load(through_crashes=True, patience=180)
        generated = Generated()
        report["load_started_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        began = time.monotonic()
        try:
            await asyncio.gather(
                generate(cluster, load, seed, began + SECONDS, generated),
                inflict(cluster, faults, began, began + SECONDS),
            )
        finally:
            await bring_everything_back(cluster)
        load_stopped = time.monotonic()
        manual = [one.account_id for one in generated.sent if one.source == "manual"]
        scheduled = [one.account_id for one in generated.sent if one.source == "scheduled"]
        deadline = time.monotonic() + 600
        while not await all_completed(cluster, manual, scheduled) and time.monotonic() < deadline:
            await asyncio.sleep(2)
        finished = time.monotonic() - load_stopped
        state = await check_end_state(cluster, generated.sent)

    report.update(
        faults=[asdict(fault) for fault in faults],
        load={
            "accounts_started": generated.accounts_started,
            "manual": len(manual),
            "scheduled": len(scheduled),
            "failed": len(generated.failed),
            "failed_examples": generated.failed[:10],
            "requests": load.requests,
            "retried": dict(load.retried),
        },
        finished_seconds_after_load=round(finished, 1),
        checker={kind: state.counts[kind] for kind in FAILURES},
        checker_examples=dict(state.examples),
        scheduled_lateness_seconds={
            "median": round(state.lateness[len(state.lateness) // 2], 2),
            "max": round(state.lateness[-1], 2),
        },
        redelivered_records=state.redelivered_records,
        passed=not state.failures,
    )
    REPORT.write_text(json.dumps(report, indent=2, default=str) + "\n")
    text = summary(report)
    REPORT.with_suffix(".txt").write_text(text)
    print(text + f"report: {REPORT} (and .txt)")
    return bool(report["passed"])


def main() -> None:
    seed = int(os.environ.get("CUTOVER_CHAOS_SEED") or random.SystemRandom().randrange(1, 10**6))
    print(f"chaos: seed {seed} (CUTOVER_CHAOS_SEED={seed} repeats this schedule), {SECONDS} s")
    sys.exit(0 if asyncio.run(run(seed)) else 1)


if __name__ == "__main__":
    main()
