"""The audit's statistics against published values (and scipy, where it is installed)."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from bias_audit.stats import (
    benjamini_hochberg,
    fisher_exact,
    holm,
    minimum_detectable_rate,
    power,
    rejection_region,
    smallest_p_value,
    wilson_interval,
)

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Table I,
# method 3 (Wilson score, no continuity correction), 95%.
NEWCOMBE = [
    ((81, 263), (0.2553, 0.3662)),
    ((15, 148), (0.0624, 0.1605)),
    ((0, 20), (0.0000, 0.1611)),
    ((1, 29), (0.0061, 0.1718)),
]


@pytest.mark.parametrize(("counts", "expected"), NEWCOMBE)
def test_wilson_matches_newcombe(counts: tuple[int, int], expected: tuple[float, float]) -> None:
    low, high = wilson_interval(*counts)
    assert (round(low, 4), round(high, 4)) == expected


def test_wilson_edges_and_small_n() -> None:
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.27753, abs=1e-5))
    assert wilson_interval(10, 10) == (pytest.approx(0.72247, abs=1e-5), 1.0)
    low, high = wilson_interval(5, 10)
    assert (round(low, 4), round(high, 4)) == (0.2366, 0.7634)  # symmetric around 0.5
    # Never a single point, unlike the percentile bootstrap: 1 of 1 is not [100%, 100%].
    low, high = wilson_interval(1, 1)
    assert high == 1.0 and low == pytest.approx(0.2065, abs=1e-4)
    assert wilson_interval(0, 3)[1] == pytest.approx(0.5615, abs=1e-4)
    # Wider at 99%.
    assert wilson_interval(3, 10, 0.99)[0] < wilson_interval(3, 10)[0]
    with pytest.raises(ValueError):
        wilson_interval(0, 0)
    with pytest.raises(ValueError):
        wilson_interval(4, 3)


def test_fisher_known_tables() -> None:
    # Fisher's lady tasting tea (Agresti, Categorical Data Analysis, 3.5.2): 3 of 4 right.
    assert fisher_exact([[3, 1], [1, 3]], "greater") == pytest.approx(17 / 70)
    assert fisher_exact([[3, 1], [1, 3]]) == pytest.approx(34 / 70)
    # The studying/dieting table of Wikipedia's "Fisher's exact test" article.
    assert fisher_exact([[1, 9], [11, 3]]) == pytest.approx(0.002759, abs=1e-6)
    # Nothing to tell apart: p = 1.
    assert fisher_exact([[0, 8], [0, 8]]) == 1.0
    assert fisher_exact([[4, 4], [4, 4]]) == 1.0
    # 8 of 8 against 0 of 8: 2 / C(16, 8) two-sided, 1 / C(16, 8) one-sided.
    assert fisher_exact([[8, 0], [0, 8]]) == pytest.approx(2 / 12870)
    assert fisher_exact([[8, 0], [0, 8]], "greater") == pytest.approx(1 / 12870)
    assert fisher_exact([[8, 0], [0, 8]], "less") == 1.0
    with pytest.raises(ValueError):
        fisher_exact([[-1, 2], [3, 4]])


def test_fisher_agrees_with_scipy() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = random.Random(0)
    for _ in range(300):
        table = [[rng.randint(0, 12), rng.randint(0, 12)], [rng.randint(0, 12), rng.randint(0, 12)]]
        for alternative in ("two-sided", "greater", "less"):
            expected = scipy_stats.fisher_exact(table, alternative=alternative).pvalue
            assert fisher_exact(table, alternative) == pytest.approx(expected, rel=1e-9)


# Benjamini & Hochberg (1995), section 4.2: 15 p-values; at q = 0.05 the procedure rejects
# the four smallest, while Bonferroni (and Holm) reject three.
BH_EXAMPLE = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459,
    0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_benjamini_hochberg_worked_example() -> None:
    q = benjamini_hochberg(BH_EXAMPLE)
    assert sum(value <= 0.05 for value in q) == 4
    # By hand: p_(i) * 15 / i, then the running minimum from the largest p down.
    expected = [
        0.0015, 0.003, 0.0095, 0.035625, 0.0603, 0.0298 * 15 / 7, 0.0298 * 15 / 7,
        0.0645, 0.0765, 0.486, 0.4262 * 15 / 11, 0.5719 * 15 / 12, 0.6528 * 15 / 13,
        0.7590 * 15 / 14, 1.0,
    ]  # fmt: skip
    assert q == pytest.approx(expected)
    # Order does not matter: shuffled in, shuffled out.
    order = list(range(15))
    random.Random(1).shuffle(order)
    shuffled = benjamini_hochberg([BH_EXAMPLE[i] for i in order])
    assert shuffled == pytest.approx([q[i] for i in order])
    assert benjamini_hochberg([]) == []
    scipy_stats = pytest.importorskip("scipy.stats")
    assert q == pytest.approx(list(scipy_stats.false_discovery_control(BH_EXAMPLE)))


def test_holm_worked_example() -> None:
    adjusted = holm(BH_EXAMPLE)
    assert sum(value <= 0.05 for value in adjusted) == 3
    assert adjusted[:4] == pytest.approx([0.0015, 0.0056, 0.0247, 0.114])
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert all(h >= b for h, b in zip(adjusted, benjamini_hochberg(BH_EXAMPLE), strict=True))


@pytest.mark.parametrize(("n1", "n0"), [(3, 3), (8, 8), (5, 12), (20, 7)])
@pytest.mark.parametrize("level", [0.05, 0.001])
def test_rejection_region_is_fisher_in_the_flag_direction(n1: int, n0: int, level: float) -> None:
    region = rejection_region(n1, n0, level)
    for x1, x0 in itertools.product(range(n1 + 1), range(n0 + 1)):
        p = fisher_exact([[x1, n1 - x1], [x0, n0 - x0]])
        assert region[x1, x0] == (p <= level and x1 * n0 > x0 * n1), (x1, x0)


def test_power_is_exact_against_simulation() -> None:
    n1, n0, level = 20, 20, 0.01
    exact = power(0.6, 0.1, n1, n0, level)
    rng = np.random.default_rng(1)
    region = rejection_region(n1, n0, level)
    draws = region[rng.binomial(n1, 0.6, 100_000), rng.binomial(n0, 0.1, 100_000)]
    assert exact == pytest.approx(draws.mean(), abs=0.005)
    # No difference: the flag rate is at most the level (Fisher is conservative).
    assert power(0.3, 0.3, 40, 40, 0.05) <= 0.05


def test_minimum_detectable_rate() -> None:
    # 3 replies each (a quick audit): 3 of 3 against 0 of 3 is p = 0.1, never below 0.05.
    assert smallest_p_value(3, 3) == pytest.approx(0.1)
    assert minimum_detectable_rate(0.0, 3, 3, 0.05) is None
    # 8 each at 5%: a persona near 70% against a baseline at 0 is found 80% of the time...
    at_5 = minimum_detectable_rate(0.0, 8, 8, 0.05)
    assert at_5 is not None and 0.6 < at_5 < 0.8
    assert power(at_5, 0.0, 8, 8, 0.05) >= 0.8 > power(at_5 - 0.001, 0.0, 8, 8, 0.05)
    # ...but after a correction over 50 tests it takes a persona failing almost always.
    at_corrected = minimum_detectable_rate(0.0, 8, 8, 0.05 / 50)
    assert at_corrected is not None and at_corrected > 0.95
    # More replies, smaller detectable differences.
    larger = minimum_detectable_rate(0.1, 100, 100, 0.05 / 50)
    assert larger is not None and larger < 0.45
    assert minimum_detectable_rate(1.0, 10, 10, 0.05) is None  # nothing lies above 100%
