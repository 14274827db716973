"""bench-data-scale's disk reads: each call keeps its slowest requests beside what they read."""

from __future__ import annotations

from bench import data_scale


def test_a_call_keeps_its_slowest_requests_beside_their_disk_reads() -> None:
    timings = [5.0, 300.04, 7.0, 120.0, 6.0]
    read_kib = [0, 24, 0, 0, 8]

    assert data_scale.disk_reads(timings, read_kib) == {
        "disk_read_kib": 32,
        "requests_reading_disk": 2,
        "slowest": [
            {"ms": 300.0, "disk_read_kib": 24},
            {"ms": 120.0, "disk_read_kib": 0},
            {"ms": 7.0, "disk_read_kib": 0},
        ],
    }


def test_the_machine_s_disk_reads_only_grow() -> None:
    first = data_scale.disk_read_kib()
    assert 0 <= first <= data_scale.disk_read_kib()
