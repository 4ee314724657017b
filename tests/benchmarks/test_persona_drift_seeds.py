"""benchmarks/persona_drift_seeds.py: runs that differ only in the conversation's seed."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.persona_drift_seeds import (
    condition_differences,
    differences_markdown,
    main,
    markdown,
    seed_rows,
)
from tests.helpers.drift_results import drift_result

TRAITS = ("openness", "neuroticism")


def _result(condition: str, turns: int, right: dict[str, tuple[bool, bool]]) -> dict[str, Any]:
    return drift_result(condition, turns, right, traits=TRAITS)


def _run(
    seed: int | None,
    at_twenty: dict[str, tuple[bool, bool]],
    condition: str = "controller",
    **config: Any,
) -> Any:
    start = {"Ada": (True, True), "Bo": (True, False)}
    payload: dict[str, Any] = {
        "card_set": "evaluation",
        "steering_combination": "sum",
        **config,
        "report": {"results": [_result(condition, 0, start), _result(condition, 20, at_twenty)]},
    }
    if seed is not None:
        payload["conversation_seed"] = seed
    return payload


def test_seeds_give_the_spread_the_pooled_mean_and_the_agreement() -> None:
    runs = [
        (Path("a.json"), _run(None, {"Ada": (True, True), "Bo": (False, False)})),  # 7000
        (Path("b.json"), _run(7100, {"Ada": (True, False), "Bo": (False, False)})),
    ]
    rows = {row.turns: row for row in seed_rows(runs, resamples=200)}
    assert rows[0].acc_by_seed == [0.75, 0.75] and rows[0].spread == 0 and rows[0].agreeing == 1
    twenty = rows[20]
    assert twenty.seeds == [7000, 7100]
    assert twenty.acc_by_seed == [0.5, 0.25] and twenty.spread == 0.25
    assert twenty.mean == 0.375 and twenty.pairs == 4
    assert twenty.agreeing == 0.75  # Ada's neuroticism changed its verdict
    assert twenty.trait_mean == {"openness": 0.5, "neuroticism": 0.25}
    assert 0 <= twenty.interval[0] <= twenty.mean <= twenty.interval[1] <= 1
    assert twenty.card_set == "evaluation"
    assert "| evaluation | controller | 20 | 4 | 7000: 0.50, 7100: 0.25 | 0.25 |" in markdown(
        list(rows.values())
    )


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (
            _run(7000, {"Ada": (True, True), "Bo": (True, True)}),
            "both sampled seed 7000 of evaluation (controller at 0 turns)",
        ),
        (
            _run(7100, {"Ada": (True, True), "Bo": (True, True)}, steering_combination="x"),
            "another configuration than a.json (steering_combination)",
        ),
        (
            _run(7100, {"Ada": (True, True), "Bo": (True, True)}, steering_scope="reply"),
            "another configuration than a.json (steering_scope)",
        ),
        (
            _run(7100, {"Ada": (True, True), "Bo": (True, True)}, max_combined_strength=1.5),
            "another configuration than a.json (max_combined_strength)",
        ),
        (
            _run(7100, {"Ada": (True, True), "Bo": (True, True)}, note_depth=0),
            "another configuration than a.json (note_depth)",
        ),
    ],
)
def test_runs_that_are_not_samples_of_one_configuration_are_refused(
    second: Any, message: str
) -> None:
    first = _run(None, {"Ada": (True, True), "Bo": (True, True)})
    with pytest.raises(ValueError, match=re.escape(message)):
        seed_rows([(Path("a.json"), first), (Path("b.json"), second)], resamples=10)


def test_a_turn_zero_that_differs_is_refused() -> None:
    first = _run(None, {"Ada": (True, True), "Bo": (True, True)})
    second = _run(7100, {"Ada": (True, True), "Bo": (True, True)})
    second["report"]["results"][0] = _result(
        "controller", 0, {"Ada": (False, True), "Bo": (True, False)}
    )
    with pytest.raises(ValueError, match="turn 0 differs"):
        seed_rows([(Path("a.json"), first), (Path("b.json"), second)], resamples=10)


def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(_run(None, {"Ada": (True, True), "Bo": (True, True)})))
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\x00\xff not json")
    for runs in ([good], [good, broken], [good, tmp_path / "missing.json"]):
        with pytest.raises(SystemExit) as caught:
            main(["--runs", *map(str, runs)])
        assert caught.value.code == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and error.count("\n") == 1


def test_sets_with_the_same_seeds_are_pooled() -> None:
    runs = [
        (Path("e0.json"), _run(None, {"Ada": (True, True), "Bo": (False, False)})),
        (Path("e1.json"), _run(7100, {"Ada": (True, False), "Bo": (False, False)})),
        (
            Path("c0.json"),
            _run(None, {"Ada": (True, True), "Bo": (True, True)}, card_set="confirmation"),
        ),
        (
            Path("c1.json"),
            _run(7100, {"Ada": (True, True), "Bo": (True, True)}, card_set="confirmation"),
        ),
    ]
    rows = {(row.card_set, row.turns): row for row in seed_rows(runs, resamples=200)}
    assert sorted({name for name, _ in rows}) == ["both sets", "confirmation", "evaluation"]
    both = rows[("both sets", 20)]
    assert both.pairs == 8  # the sets' characters are kept apart, though both have an Ada
    assert both.acc_by_seed == [0.75, 0.625] and both.mean == 0.6875
    assert rows[("confirmation", 20)].spread == 0 and rows[("evaluation", 20)].spread == 0.25


def test_a_set_with_one_seed_is_left_out() -> None:
    runs = [
        (Path("e0.json"), _run(None, {"Ada": (True, True), "Bo": (False, False)})),
        (Path("e1.json"), _run(7100, {"Ada": (True, False), "Bo": (False, False)})),
        (
            Path("c0.json"),
            _run(None, {"Ada": (True, True), "Bo": (True, True)}, card_set="confirmation"),
        ),
    ]
    assert {row.card_set for row in seed_rows(runs, resamples=50)} == {"evaluation"}


def test_one_seeds_runs_under_other_conditions_are_rows_of_their_own() -> None:
    """The memory condition's seed runs are separate runs from the controller's."""
    runs = [
        (Path("base.json"), _run(None, {"Ada": (True, True), "Bo": (False, False)})),
        (Path("c1.json"), _run(7100, {"Ada": (True, False), "Bo": (False, False)})),
        (Path("m0.json"), _run(None, {"Ada": (False, False), "Bo": (False, False)}, "memory")),
        (Path("m1.json"), _run(7100, {"Ada": (True, True), "Bo": (True, True)}, "memory")),
    ]
    rows = {(row.condition, row.turns): row for row in seed_rows(runs, resamples=50)}
    assert sorted(rows) == [("controller", 0), ("controller", 20), ("memory", 0), ("memory", 20)]
    assert rows[("controller", 20)].acc_by_seed == [0.5, 0.25]
    assert rows[("memory", 20)].acc_by_seed == [0.0, 1.0]
    assert rows[("memory", 20)].seeds == [7000, 7100]


def test_a_checkpoint_only_one_seed_reached_is_left_out() -> None:
    base = _run(None, {"Ada": (True, True), "Bo": (False, False)})
    base["report"]["results"].append(
        _result("controller", 10, {"Ada": (True, True), "Bo": (True, True)})
    )
    rerun = _run(7100, {"Ada": (True, False), "Bo": (False, False)})
    rows = seed_rows([(Path("a.json"), base), (Path("b.json"), rerun)], resamples=50)
    assert sorted(row.turns for row in rows) == [0, 20]


def test_a_result_from_before_the_scope_was_recorded_steered_every_token() -> None:
    old = _run(None, {"Ada": (True, True), "Bo": (False, False)})
    new = _run(7100, {"Ada": (True, False), "Bo": (False, False)}, steering_scope="all")
    assert len(seed_rows([(Path("a.json"), old), (Path("b.json"), new)], resamples=20)) == 2


def test_conditions_are_compared_paired_over_the_seeds_both_have() -> None:
    runs = [
        (Path("base.json"), _run(None, {"Ada": (True, True), "Bo": (False, False)})),
        (Path("c1.json"), _run(7100, {"Ada": (True, False), "Bo": (False, False)})),
        (Path("c2.json"), _run(7200, {"Ada": (True, True), "Bo": (True, True)})),
        (Path("m0.json"), _run(None, {"Ada": (False, False), "Bo": (False, False)}, "memory")),
        (Path("m1.json"), _run(7100, {"Ada": (True, True), "Bo": (True, False)}, "memory")),
    ]
    found = {d.turns: d for d in condition_differences(runs, resamples=200)}
    twenty = found[20]
    assert (twenty.base, twenty.other) == ("controller", "memory")
    assert twenty.seeds == [7000, 7100]  # 7200 has no memory run
    # seed 7000: 0/4 vs 2/4 right -> -0.5; seed 7100: 3/4 vs 1/4 -> +0.5
    assert twenty.difference_by_seed == [-0.5, 0.5] and twenty.difference == 0
    assert twenty.interval[0] < 0 < twenty.interval[1]
    assert found[0].difference == 0 and found[0].interval == (0.0, 0.0)
    assert "| evaluation | memory - controller | 20 | 4 | 7000: -0.50, 7100: +0.50 |" in (
        differences_markdown(list(found.values()))
    )
