"""The benchmarks' CPU meter: a PostgreSQL backend reaped while the backends are listed counts once.

The postmaster (pid 1, 0.5 s of its own) has reaped backends worth 5 s; backend 2 has spent 3 s
and is reaped during the reading, either before its own time is read (it would be missed) or after
(it would be counted twice). Either way PostgreSQL has spent 8.5 s.
"""

from __future__ import annotations

import pytest

from bench import disconnects


@pytest.mark.parametrize("reaped", ["while listed", "after its time was read"])
def test_a_backend_reaped_during_the_reading_counts_once(
    monkeypatch: pytest.MonkeyPatch, reaped: str
) -> None:
    backends = {2: 3.0}
    postmaster = {"own": 0.5, "reaped": 5.0}

    def reap() -> None:
        postmaster["reaped"] += backends.pop(2)

    def times_of(pid: int, stat: str = "stat") -> tuple[float, float]:
        if pid == 1:
            return postmaster["own"], postmaster["reaped"]
        spent = backends.get(pid, 0.0)
        if reaped == "after its time was read" and pid in backends:
            reap()
        return spent, 0.0

    def children_of(parent: int) -> list[int]:
        listed = list(backends)
        if reaped == "while listed" and backends:
            reap()
        return listed

    monkeypatch.setattr(disconnects, "_times_of", times_of)
    monkeypatch.setattr(disconnects, "children_of", children_of)
    assert disconnects._postgres_cpu(1) == pytest.approx(8.5)
