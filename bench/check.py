"""`make bench-check`: issue 19's table from the newest results, and a verdict.

Reads the result file each benchmark last wrote in bench/results/ (whatever run wrote it: the
table says when and at which commit), prints every measure with its figure, its target and the
peers' figures from the same run, and exits 1 when a target is missed that the README does not
list as a known miss. The README lists them in one table between two marker lines,
`<!-- bench-check: known misses -->` and `<!-- /bench-check -->`, whose first column is the
measure's name exactly as this table prints it (in backticks), or a name ending in `*` for every
measure that starts with it (`data scale p99: *`): a miss stays visible, with its reason beside
it, and a new miss fails. A listed miss that is met again is reported, so the list can be cut.

A result file that is missing, or that lacks the figure (written by an older version of its
bench), is a miss too: an unmeasured target is not a met one.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.common import REPO

RESULTS = REPO / "bench" / "results"
README = REPO / "README.md"
MARKERS = ("<!-- bench-check: known misses -->", "<!-- /bench-check -->")
PEER_LABELS = {"river": "River", "pgboss": "pg-boss", "procrastinate": "Procrastinate"}


@dataclass
class Row:
    measure: str
    figure: str
    target: str
    met: bool
    peers: str = ""
    source: str = ""


def load(name: str) -> dict | None:
    path = RESULTS / name
    return json.loads(path.read_text()) if path.exists() else None


def provenance(document: dict) -> str:
    machine = document.get("machine", {})
    commit = machine.get("commit", "?")
    return f"{document.get('date', '?')[:16]} @ {commit}{'+' if machine.get('dirty') else ''}"


def dig(document: dict | None, *keys: str) -> Any:
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def measure(
    name: str,
    file: str,
    value: Callable[[dict], float | None],
    target: str,
    holds: Callable[[float], bool],
    shown: Callable[[float], str] = lambda v: f"{v:,}",
) -> Row:
    document = load(file)
    figure = value(document) if document else None
    if figure is None:
        return Row(name, "no result", target, False, source=file)
    return Row(name, shown(figure), target, holds(figure), source=f"{file} {provenance(document)}")


def disconnect_rows() -> list[Row]:
    return [
        measure(
            "disconnects completed/s, 64 in flight",
            "disconnects.json",
            lambda d: dig(d, "throughput", "completed_per_second"),
            "≥ 500",
            lambda v: v >= 500,
        ),
        measure(
            "CPU per disconnect, whole machine",
            "disconnects.json",
            lambda d: dig(d, "throughput", "cpu_ms_per_disconnect", "whole machine"),
            "≤ 3.5 ms",
            lambda v: v <= 3.5,
            lambda v: f"{v} ms",
        ),
        measure(
            "end to end at 200/s offered, p99",
            "disconnects.json",
            lambda d: dig(d, "latency", "end_to_end_ms", "p99"),
            "≤ 250 ms",
            lambda v: v <= 250,
            lambda v: f"{v:,} ms",
        ),
        measure(
            "month-end mass disconnect, completions/s",
            "mass-disconnect.json",
            lambda d: d.get("completions_per_second"),
            "≥ 500",
            lambda v: v >= 500,
        ),
    ]


def spread(summary: dict | None, digits: int = 0) -> str:
    if not summary or summary.get("median") is None:
        return "—"
    return f"{summary['median']:,.{digits}f} ({summary['min']:,.{digits}f}–{summary['max']:,.{digits}f})"


def scheduler_rows() -> list[Row]:
    peers = load("peers.json")
    systems = dig(peers, "systems") or {}
    cutover = dig(systems, "cutover", "burst_summary", "jobs_per_second")
    name = "scheduler burst, 1 replica, jobs/s (median of the rounds)"
    target = "≥ 40,000 and ahead of River and pg-boss"
    if cutover is None:
        burst = Row(name, "no result (no rounds in peers.json)", target, False, source="peers.json")
    else:
        rivals = [
            dig(systems, p, "burst_summary", "jobs_per_second", "median") for p in PEER_LABELS
        ]
        ahead = all(r is not None and cutover["median"] > r for r in rivals[:2])
        burst = Row(
            name,
            spread(cutover),
            target,
            cutover["median"] >= 40_000 and ahead,
            "; ".join(
                f"{label} {spread(dig(systems, p, 'burst_summary', 'jobs_per_second'))}"
                for p, label in PEER_LABELS.items()
                if p in systems
            ),
            f"peers.json {provenance(peers)}",
        )
    cpu = dig(systems, "cutover", "burst_summary", "cpu_seconds_per_100k", "own_processes")
    cpu_row = Row(
        "scheduler burst, CPU s per 100k jobs, own processes (median)",
        spread(cpu, 1),
        "report only",
        True,
        "; ".join(
            f"{label} "
            f"{spread(dig(systems, p, 'burst_summary', 'cpu_seconds_per_100k', 'own_processes'), 1)}"
            for p, label in PEER_LABELS.items()
            if p in systems
        ),
        f"peers.json {provenance(peers)}" if peers else "peers.json",
    )
    steady = measure(
        "scheduler steady 2k/s, lateness p99 at the consumer",
        "scheduler.json",
        lambda d: next(
            (r["lateness_ms"]["p99"] for r in d["results"] if r["kind"] == "steady"), None
        ),
        "≤ 25 ms",
        lambda v: v <= 25,
        lambda v: f"{v} ms",
    )
    steady.peers = "; ".join(
        f"{label} {dig(systems, p, 'steady', 'lateness_ms', 'p99')} ms"
        for p, label in PEER_LABELS.items()
        if dig(systems, p, "steady")
    )
    return [burst, cpu_row, steady]


def data_scale_rows() -> list[Row]:
    document = load("data-scale.json")
    if not document or not document.get("runs"):
        return [Row("data scale: every interactive call, p99", "no result", "≤ 50 ms", False)]
    run = max(document["runs"], key=lambda r: r["accounts"])
    source = f"data-scale.json {provenance(document)}"
    at = f"at {run['accounts']:,} accounts"
    target = f"≤ {document['target_p99_ms']:g} ms at 10,000,000"
    rows = [
        Row(f"data scale p99: {call}", f"{figure['p99']:,} ms {at}", target, False, source=source)
        for call, figure in run["calls"].items()
        if figure["p99"] > document["target_p99_ms"]
    ]
    slowest = max(run["calls"].items(), key=lambda item: item[1]["p99"])
    rows.insert(
        0,
        Row(
            "data scale: every interactive call, p99",
            f"slowest {slowest[1]['p99']:,} ms ({slowest[0]}) {at}",
            target,
            not rows and run["accounts"] >= 10_000_000,
            source=source,
        ),
    )
    export = run["csv_export"]
    rows.append(
        Row(
            "CSV export: memory above before, peak",
            f"{export['rss_peak_above_before_mib']} MiB over {export['rows']:,} rows "
            f"({export['rows_per_second']:,} rows/s) {at}",
            "≤ 50 MiB (flat)",
            export["rss_peak_above_before_mib"] <= 50,
            source=source,
        )
    )
    return rows


def soak_rows() -> list[Row]:
    document = load("soak.json")
    name = "RSS slope from minute 2, every process (leak run)"
    if not document:
        return [Row(name, "no result", "< 1 MiB/min", False, source="soak.json")]
    part, worst = max(document["slopes"].items(), key=lambda item: item[1]["mib_per_minute"])
    # PostgreSQL's part is the sum of its processes; each client backend's own slope is beside it.
    backends = document.get("postgres_backend_slopes") or {}
    each = (
        f" (PostgreSQL's {backends['backends']} client backends: each at most "
        f"{backends['max_mib_per_minute']:+} MiB/min)"
        if backends.get("max_mib_per_minute") is not None
        else ""
    )
    return [
        Row(
            name,
            f"worst {worst['mib_per_minute']:+} MiB/min ({part}){each}, "
            f"{document['rate_per_second']}/s offered for {document['seconds']} s, "
            f"{document.get('completed_per_second', '?')}/s completed",
            "< 1 MiB/min over 10 min",
            all(s["ok"] for s in document["slopes"].values()) and document["seconds"] >= 600,
            source=f"soak.json {provenance(document)}",
        )
    ]


def known_misses(readme: str) -> set[str]:
    """The measures the README's marked table lists (its first column, in backticks)."""
    start, end = MARKERS
    if start not in readme or end not in readme:
        return set()
    block = readme.split(start, 1)[1].split(end, 1)[0]
    return {
        match.group(1)
        for line in block.splitlines()
        if (match := re.match(r"^\|\s*`([^`]+)`\s*\|", line))
    }


def main() -> int:
    rows = disconnect_rows() + scheduler_rows() + data_scale_rows() + soak_rows()
    listed = known_misses(README.read_text())
    print("| measure | figure | target | verdict | peers, same run | from |")
    print("| --- | --- | --- | --- | --- | --- |")
    failed = []
    for row in rows:
        known = any(fnmatch.fnmatchcase(row.measure, pattern) for pattern in listed)
        if row.met:
            verdict = "met (listed as a miss: cut it)" if row.measure in listed else "met"
        elif known:
            verdict = "known miss (README)"
        else:
            verdict = "MISSED"
            failed.append(row.measure)
        print(
            f"| `{row.measure}` | {row.figure} | {row.target} | {verdict} | {row.peers or '—'} "
            f"| {row.source} |"
        )
    if failed:
        print(f"\nbench-check: {len(failed)} missed target(s) not listed in the README:")
        for name in failed:
            print(f"  - {name}")
        return 1
    print("\nbench-check: every target met or listed in the README as a known miss")
    return 0


if __name__ == "__main__":
    sys.exit(main())
