"""Paired drift comparisons (benchmarks/persona_drift_compare.py) on hand-made results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks.persona_drift_compare import (
    markdown,
    paired_difference,
    standard_comparisons,
    write_plot,
)

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def _result(
    correct: dict[str, list[bool]],
    error: float = 0.2,
    condition: str = "controller",
    turns: int = 0,
) -> dict[str, Any]:
    return {
        "condition": condition,
        "turns": turns,
        "characters": [
            {
                "name": name,
                "traits": {
                    trait: {
                        # A card at the midpoint is not counted in Acc(Dim) (the last trait
                        # of character "c" here).
                        "counted": not (name == "c" and trait == "neuroticism"),
                        "correct": right,
                        "abs_error": error,
                    }
                    for trait, right in zip(TRAITS, rights, strict=True)
                },
            }
            for name, rights in correct.items()
        ],
    }


BASE = {"a": [True] * 5, "b": [True, True, False, False, True], "c": [True] * 4 + [False]}


def test_the_difference_counts_gains_and_losses_over_counted_pairs() -> None:
    other = {"a": [True] * 4 + [False], "b": [True] * 5, "c": [True] * 4 + [True]}
    row = paired_difference(_result(BASE), _result(other, error=0.3), "x", resamples=500)
    # 14 counted pairs; base right on 12, other on 13 (c's neuroticism is not counted).
    assert row.pairs == 14
    assert row.base_acc == pytest.approx(12 / 14) and row.other_acc == pytest.approx(13 / 14)
    assert row.acc_difference == pytest.approx(1 / 14)
    assert (row.gained, row.lost) == (2, 1)
    assert row.mae_difference == pytest.approx(0.1)  # every trait, counted or not
    low, high = row.acc_interval
    assert low <= row.acc_difference <= high
    assert row.mae_interval == pytest.approx((0.1, 0.1))


def test_identical_results_differ_by_nothing() -> None:
    row = paired_difference(_result(BASE), _result(BASE), "same", resamples=200)
    assert row.acc_difference == 0 and row.acc_interval == (0.0, 0.0)
    assert (row.gained, row.lost) == (0, 0)


def test_results_of_different_characters_are_refused() -> None:
    with pytest.raises(ValueError, match="different characters"):
        paired_difference(_result(BASE), _result({"a": [True] * 5}), "x", resamples=10)


def test_standard_comparisons_pair_conditions_and_ablations() -> None:
    def payload(*results: dict[str, Any]) -> dict[str, Any]:
        return {"report": {"results": list(results)}}

    worse = {"a": [False] * 5, "b": BASE["b"], "c": BASE["c"]}
    published = payload(
        _result(BASE, condition="controller", turns=20),
        _result(worse, condition="memory", turns=20),
    )
    ablation = payload(_result(worse, condition="controller", turns=20))
    rows = standard_comparisons(published, {"persona_drift_no_note": ablation}, resamples=100)
    assert [row.label for row in rows] == [
        "memory - controller, turn 20",
        "controller: with note - without, turn 20",
    ]
    assert rows[0].acc_difference == pytest.approx(-5 / 14)
    assert rows[1].acc_difference == pytest.approx(5 / 14)
    table = markdown(rows)
    assert "| memory - controller, turn 20 | 14 | 0.86 -> 0.50 | -0.36 [" in table


def test_the_plot_is_written(tmp_path: Path) -> None:
    row = paired_difference(_result(BASE), _result(BASE), "same", resamples=10)
    path = write_plot([row, row], tmp_path / "compare.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_corrupt_result_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from benchmarks.persona_drift_compare import main

    (tmp_path / "persona_drift.json").write_bytes(b"\x00\xffnot json")
    with pytest.raises(SystemExit) as exit_info:
        main(["--published", str(tmp_path / "persona_drift.json")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "persona_drift.json: not a persona_drift result" in error
    assert "\n" not in error
