"""benchmarks/steering_decay.py: its arithmetic, its reading rule, and the script end to end
on the default model, as small as it goes (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from benchmarks.steering_decay import (
    mean_scale,
    pooled_log_ratio,
    pooled_shift_ratio,
    shift_ratio,
    verdict,
)


def test_the_matched_scale_is_the_decays_mean_over_the_reply() -> None:
    assert mean_scale(32, 1) == 1.0  # the first position is steered at full strength
    # 0.5 ** (n / 2) for n = 0..3: 1, 0.707, 0.5, 0.354
    assert mean_scale(2, 4) == pytest.approx((1 + 2**-0.5 + 0.5 + 2**-1.5) / 4)
    assert mean_scale(32, 48) == pytest.approx(0.629, abs=5e-4)  # the plan's figure
    with pytest.raises(ValueError, match="positive"):
        mean_scale(0, 48)


@pytest.mark.parametrize(
    ("log_shift", "log_cost", "expected"),
    [
        ((-0.05, 0.05), (-0.04, -0.01), "better"),  # cheaper, shift not lower
        ((0.01, 0.2), (-0.02, 0.03), "better"),  # more shift, cost not higher
        ((0.01, 0.2), (0.01, 0.05), "not told apart"),  # more shift for more cost
        ((-0.05, 0.05), (0.01, 0.04), "worse"),  # dearer, shift not higher
        ((-0.3, -0.01), (-0.02, 0.02), "worse"),  # less shift, cost not lower
        ((-0.3, -0.01), (-0.05, -0.01), "not told apart"),  # less shift for less cost
        ((-0.1, 0.1), (-0.02, 0.02), "not told apart"),
    ],
)
def test_the_reading_rule_is_the_plans(
    log_shift: tuple[float, float], log_cost: tuple[float, float], expected: str
) -> None:
    assert verdict(log_shift, log_cost) == expected


def test_pooled_ratios_and_their_intervals() -> None:
    # two attributes whose top shift is twice the bottom on every pair
    bottom = [[1.0, 2.0, 3.0, 4.0], [0.5, 0.5, 1.0, 1.0]]
    top = [[2 * v for v in row] for row in bottom]
    point, (low, high) = pooled_shift_ratio(top, bottom)  # type: ignore[misc]
    assert math.exp(point) == pytest.approx(2.0)
    assert low == pytest.approx(math.log(2)) and high == pytest.approx(math.log(2))
    assert pooled_shift_ratio([[1.0, -2.0]], [[1.0, 1.0]]) is None  # a reversed shift
    ratio, interval = shift_ratio(top[0], bottom[0])
    assert ratio == pytest.approx(2.0) and interval == pytest.approx((2.0, 2.0))
    cost, (c_low, c_high) = pooled_log_ratio([[0.1, 0.3], [0.2, 0.2]])
    assert cost == pytest.approx(0.2)
    assert c_low <= 0.2 <= c_high and c_low >= 0.15 - 1e-9 and c_high <= 0.25 + 1e-9


@pytest.mark.slow
def test_a_quick_run_compares_three_conditions_on_the_same_prompts(bench_out: Path) -> None:
    from benchmarks import steering_decay

    steering_decay.main(
        ["--quick", "--attributes", "sentiment", "--half-life", "4", "--tokens", "16"]
    )
    result = json.loads((bench_out / "steering_decay.json").read_text())
    assert (bench_out / "steering_decay.png").stat().st_size > 0
    assert result["n_pairs"] == 8 and result["half_life"] == 4
    assert result["matched_scale"] == pytest.approx(mean_scale(4, 16))
    row = result["attributes"]["sentiment"]
    constant, decayed, matched = (row["conditions"][c] for c in ("constant", "decayed", "matched"))
    assert decayed["strengths"] == constant["strengths"]
    for sign in ("plus", "minus"):
        assert matched["strengths"][sign] == pytest.approx(
            constant["strengths"][sign] * result["matched_scale"]
        )
        assert len(decayed["replies"][sign]) == 8
    # the decay changes what is written (the same seeds, the same starting strength)
    assert decayed["replies"]["plus"] != constant["replies"]["plus"]
    assert set(result["pooled"]) == {
        "decayed_vs_matched",
        "decayed_vs_constant",
        "matched_vs_constant",
    }
    assert "| decayed / matched |" in steering_decay.markdown(result)
