"""benchmarks/combined_fluency.py: the combined-bound choice, and the script end to end on
the default model, as small as it goes (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.combined_fluency import choose_bound, markdown


def test_the_bound_chosen_is_the_largest_within_budget() -> None:
    assert choose_bound({1.0: 1.05, 1.5: 1.12, 2.0: 1.31}, 1.15) == 1.5
    # Not the first within budget from either end: a noisy dip past an over-budget value
    # still counts, as the pooled point estimate is what the rule reads.
    assert choose_bound({1.0: 1.05, 1.5: 1.2, 2.0: 1.14}, 1.15) == 2.0
    assert choose_bound({1.0: 1.16, 2.0: 1.3}, 1.15) is None


@pytest.mark.slow
def test_a_quick_run_measures_every_card_at_every_bound(bench_out: Path) -> None:
    from benchmarks import combined_fluency

    combined_fluency.main(["--quick", "--bounds", "0.5,4", "--threads", "2"])
    result = json.loads((bench_out / "combined_fluency_calibration_quick.json").read_text())
    assert result["quick"] and result["card_set"] == "bundled" and result["n_pairs"] == 2
    assert len(result["cards"]) == 2
    for card in result["cards"].values():
        narrow, wide = card["by_bound"]["0.5"], card["by_bound"]["4"]
        assert narrow["rescaled_layers"]  # every bundled card's sum is past 0.5 units
        assert wide["rescaled_layers"] == {}  # and below 4
        assert all(
            entry["ppl_ratio"] > 0 and len(entry["replies"]) == 2 for entry in (narrow, wide)
        )
    assert result["pooled"]["4"]["n"] == 4
    text = markdown(result)
    assert "| all 2 cards (n 4) |" in text and "steering.yaml ships" in text


def test_each_prompt_set_brings_its_own_prompts_and_seeds() -> None:
    from benchmarks.combined_fluency import prompt_set

    calibration, calibration_seeds, _ = prompt_set("calibration")
    evaluation, evaluation_seeds, evaluation_file = prompt_set("evaluation")
    holdout, holdout_seeds, holdout_file = prompt_set("holdout")
    assert calibration_seeds == [1234, 1235, 1236]  # the combined bound's calibration run's
    assert evaluation_seeds == [501, 502, 503]
    assert holdout_seeds == [601, 602, 603, 604, 605, 606]
    assert evaluation_file == "benchmarks/data/steering_eval_prompts.yaml"
    assert holdout_file == "benchmarks/data/steering_holdout_prompts.yaml"
    systems = {data["system_prompt"] for data in (calibration, evaluation, holdout)}
    assert len(systems) == 3
    assert not set(holdout["prompts"]) & set(evaluation["prompts"] + calibration["prompts"])


def test_a_variant_is_written_apart_from_the_shipped_measurement() -> None:
    from benchmarks.combined_fluency import decouple_choice, result_name

    assert result_name("fourth", "evaluation", None, False, False) == "combined_fluency_fourth"
    assert (
        result_name("fourth", "replication", "on", False, False)
        == "combined_fluency_fourth_replication_decouple_traits_on"
    )
    # The shipped choice spelled out is the shipped measurement, not a variant.
    assert result_name("fourth", "replication", "off", False, False) == (
        "combined_fluency_fourth_replication"
    )
    assert result_name("calibration", "bundled", "off", True, True) == (
        "combined_fluency_calibration_decouple_traits_off_quick"
    )
    assert (decouple_choice(None), decouple_choice("on"), decouple_choice("off")) == (
        None,
        True,
        False,
    )
