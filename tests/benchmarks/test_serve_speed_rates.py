"""The serve benchmark's decode measure: both sides end at the reply's end."""

from __future__ import annotations

import pytest

from benchmarks.serve_speed import rates


def test_decode_runs_to_the_replys_end_not_to_its_last_piece() -> None:
    # 11 tokens; the last visible piece at 1.4 s, then held-back stop-string tokens until
    # the reply ended at 1.5 s. Ten intervals over 0.5 s, not over 0.4 s.
    measured = rates(started=0.0, stamps=[1.0, 1.2, 1.4], ended=1.5, tokens=11)
    assert measured["ttft"] == pytest.approx(1.0)
    assert measured["decode"] == pytest.approx(10 / 0.5)
    assert measured["decode_last_piece"] == pytest.approx(10 / 0.4)


def test_a_one_token_reply_has_no_decode_rate() -> None:
    measured = rates(started=0.0, stamps=[0.5], ended=0.5, tokens=1)
    assert measured["decode"] == 0.0
    assert measured["decode_last_piece"] == 0.0


def test_the_threads_table_shows_the_last_piece_measure_beside_the_fair_one() -> None:
    from benchmarks.serve_speed import _threads_table

    def run(decode: float, last: float | None) -> dict[str, float]:
        measured = {"ttft": 2.0, "engine_ttft": 1.99, "decode": decode, "engine_decode": 90.0}
        return measured if last is None else measured | {"decode_last_piece": last}

    local = [run(90.0, 95.0), run(80.0, 85.0)]
    served = [run(90.0, 90.0), run(80.0, 80.0)]
    table = _threads_table({"2": {"runs": {"in-process": local, "served": served}}})
    row = table.splitlines()[-1]
    assert "x1.000 [1.000, 1.000] | x1.000 [1.000, 1.000] | x0.944" in row
    old = {"runs": {"in-process": [run(90.0, None)], "served": [run(90.0, None)]}}
    assert "| x1.000 [1.000, 1.000] | x1.000 [1.000, 1.000] | - | - | - |" in _threads_table(
        {"2": old}
    )
