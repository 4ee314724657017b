"""The pools latency table (benchmarks/memory_pools_speed.py)."""

from __future__ import annotations

from benchmarks.memory_pools_speed import markdown


def test_the_table_shows_both_sides_and_the_ratio_with_its_interval() -> None:
    stage = {
        "memories": 10000,
        "n": 200,
        "one_pool_p50_ms": 20.04,
        "two_pools_p50_ms": 31.56,
        "ratio": 1.575,
        "ratio_95": [1.5, 1.66],
    }
    table = markdown({"stages": [stage]})
    assert table.splitlines()[2] == "| 10,000 | 200 | 20.0 | 31.6 | x1.57 [1.50, 1.66] |"
