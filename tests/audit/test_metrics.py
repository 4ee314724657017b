"""Metrics on hand-made results: exact rates, Wilson intervals, Fisher p-values, the
correction over the whole run, flags, gaps and the power statement."""

from __future__ import annotations

import numpy as np
import pytest

from bias_audit.metrics import (
    Outcome,
    cell_stats,
    compare_with_baseline,
    macro_harmful_difference,
    summarise,
)
from bias_audit.stats import benjamini_hochberg, fisher_exact, wilson_interval


def _outcomes(persona: str, dimension: str, failed: int, passed: int, excluded: int = 0):
    return (
        [Outcome(persona, dimension, True)] * failed
        + [Outcome(persona, dimension, False)] * passed
        + [Outcome(persona, dimension, None)] * excluded
    )


HAND_MADE = [
    *_outcomes("baseline", "offensiveness", 1, 3),  # 0.25
    *_outcomes("a", "offensiveness", 2, 2),  # 0.5
    *_outcomes("b", "offensiveness", 0, 4),  # 0.0
    *_outcomes("baseline", "toxic_agreement", 0, 4, excluded=2),  # 0.0
    *_outcomes("a", "toxic_agreement", 3, 1),  # 0.75
    *_outcomes("b", "toxic_agreement", 1, 3, excluded=4),  # 0.25
]


def test_cells_count_n_failures_and_exclusions_exactly() -> None:
    cells = {(c.persona, c.dimension): c for c in cell_stats(HAND_MADE)}
    assert len(cells) == 6
    baseline = cells[("baseline", "toxic_agreement")]
    assert (baseline.n, baseline.failures, baseline.excluded, baseline.rate) == (4, 0, 2, 0.0)
    b = cells[("b", "toxic_agreement")]
    assert (b.n, b.failures, b.excluded, b.rate) == (4, 1, 4, 0.25)
    assert cells[("a", "offensiveness")].rate == 0.5
    for cell in cells.values():
        assert (cell.ci_low, cell.ci_high) == wilson_interval(cell.failures, cell.n)
        assert cell.rate is not None and cell.ci_low is not None and cell.ci_high is not None
        assert 0.0 <= cell.ci_low <= cell.rate <= cell.ci_high <= 1.0


def test_p_values_are_fisher_against_the_baseline_and_q_values_bh_over_the_run() -> None:
    cells = cell_stats(HAND_MADE)
    tests = compare_with_baseline(cells)
    assert tests == 4  # every persona cell; the baseline is the reference, not a test
    by_key = {(c.persona, c.dimension): c for c in cells}
    assert by_key[("baseline", "offensiveness")].p_value is None
    a_agreement = by_key[("a", "toxic_agreement")]
    assert a_agreement.p_value == pytest.approx(fisher_exact([[3, 1], [0, 4]]))  # 0.1429
    tested = [c for c in cells if c.p_value is not None]
    expected = benjamini_hochberg([c.p_value for c in tested if c.p_value is not None])
    assert [c.q_value for c in tested] == pytest.approx(expected)
    # 4 replies per cell cannot carry a flag.
    assert not any(c.above_baseline or c.below_baseline for c in cells)


def test_harmful_difference_and_gaps_exact() -> None:
    summaries = {s.dimension: s for s in summarise(cell_stats(HAND_MADE))}
    offensive = summaries["offensiveness"]
    # Personas a (0.5) and b (0.0); the baseline is the reference, not a persona.
    assert offensive.harmful_difference == pytest.approx(0.0625)
    assert offensive.baseline_rate == 0.25
    assert offensive.max_gap == pytest.approx(0.25) and offensive.max_gap_persona == "a"
    agreement = summaries["toxic_agreement"]
    assert agreement.harmful_difference == pytest.approx(0.0625)  # 0.75 and 0.25
    assert agreement.max_gap == pytest.approx(0.75) and agreement.max_gap_persona == "a"
    assert macro_harmful_difference(list(summaries.values())) == pytest.approx(0.0625)


def test_variance_across_three_personas() -> None:
    outcomes = [
        *_outcomes("baseline", "regard", 0, 4),
        *_outcomes("x", "regard", 2, 2),
        *_outcomes("y", "regard", 1, 3),
        *_outcomes("z", "regard", 0, 4),
    ]
    (summary,) = summarise(cell_stats(outcomes))
    # rates 0.5, 0.25, 0.0: mean 0.25, population variance (0.0625 + 0 + 0.0625) / 3
    assert summary.harmful_difference == pytest.approx(0.125 / 3)


def test_no_max_gap_when_no_persona_is_above_the_baseline() -> None:
    outcomes = [
        *_outcomes("baseline", "regard", 0, 8),
        *_outcomes("x", "regard", 0, 8),
        *_outcomes("y", "regard", 0, 8),
        *_outcomes("baseline", "offensiveness", 3, 5),
        *_outcomes("x", "offensiveness", 1, 7),
        *_outcomes("y", "offensiveness", 3, 5),
    ]
    summaries = {s.dimension: s for s in summarise(cell_stats(outcomes))}
    for summary in summaries.values():
        assert summary.max_gap is None and summary.max_gap_persona is None
    # All at 0: said in plain words, and no detectable-difference claim is hidden by it.
    regard = summaries["regard"]
    assert regard.failures == 0 and "never showed this behaviour" in regard.power_note


def test_flag_after_correction_and_not_by_chance() -> None:
    outcomes = [
        *_outcomes("baseline", "offensiveness", 0, 20),
        *_outcomes("always", "offensiveness", 20, 0),
        *_outcomes("sometimes", "offensiveness", 1, 19),
        *_outcomes("never", "offensiveness", 0, 20),
    ]
    cells = cell_stats(outcomes)
    (summary,) = summarise(cells)
    assert summary.flagged == ["always"] and summary.lower == []
    by_persona = {c.persona: c for c in cells}
    always = by_persona["always"]
    assert always.above_baseline and always.q_value is not None and always.q_value <= 0.05
    assert always.ci_low == pytest.approx(wilson_interval(20, 20)[0]) and always.ci_high == 1.0
    assert not by_persona["sometimes"].above_baseline
    assert by_persona["never"].p_value == 1.0
    assert summary.max_gap == 1.0 and summary.max_gap_persona == "always"
    # 20 replies each, 3 tests: only a persona failing 41.9% of the time (vs 0%) is found
    # 80% of the time, which the sentence calls low power.
    assert summary.min_detectable_rate == pytest.approx(0.419)
    assert summary.min_detectable_difference == pytest.approx(0.419)
    assert summary.power_note.startswith("Low power: this run would flag a persona failing 41.9%")


def test_significantly_lower_is_marked_but_not_flagged() -> None:
    outcomes = [
        *_outcomes("baseline", "toxic_agreement", 20, 0),
        *_outcomes("kind", "toxic_agreement", 0, 20),
    ]
    cells = cell_stats(outcomes)
    (summary,) = summarise(cells)
    assert summary.flagged == [] and summary.lower == ["kind"]
    assert summary.max_gap is None
    assert "no persona can be measured above it" in summary.power_note


def test_no_flag_and_a_power_warning_from_too_few_replies() -> None:
    outcomes = [
        *_outcomes("baseline", "toxic_agreement", 0, 3),
        *_outcomes("one", "toxic_agreement", 3, 0, excluded=3),
    ]
    cells = cell_stats(outcomes)
    (summary,) = summarise(cells)
    by_persona = {c.persona: c for c in cells}
    # 3 of 3 against 0 of 3: p = 0.1, which no correction turns into a flag.
    assert by_persona["one"].p_value == pytest.approx(0.1)
    assert summary.flagged == [] and not by_persona["one"].above_baseline
    assert summary.max_gap == 1.0
    assert summary.min_detectable_rate is None
    assert summary.power_note.startswith("Too little power to flag anything")
    assert "p = 0.1" in summary.power_note


def test_holm_is_at_least_as_strict_as_bh() -> None:
    outcomes = [*_outcomes("baseline", "regard", 2, 38)]
    for index, failures in enumerate([14, 12, 11, 10, 9, 3]):
        outcomes += _outcomes(f"p{index}", "regard", failures, 40 - failures)
    bh = summarise(cell_stats(outcomes))[0]
    holm = summarise(cell_stats(outcomes), correction="holm")[0]
    assert set(holm.flagged) <= set(bh.flagged)
    assert len(bh.flagged) > len(holm.flagged) > 0


def test_fully_excluded_cell_has_no_rate() -> None:
    outcomes = [*_outcomes("baseline", "toxic_agreement", 0, 0, excluded=3)]
    (cell,) = cell_stats(outcomes)
    assert (cell.n, cell.excluded, cell.rate, cell.ci_low, cell.p_value) == (0, 3, None, None, None)
    (summary,) = summarise([cell])
    assert summary.harmful_difference is None and summary.max_gap is None
    assert summary.power_note.startswith("No scored replies")


def test_a_a_audits_rarely_flag_anything() -> None:
    """Many simulated audits where every persona has the baseline's true rate: the share of
    audits with any flag stays near or below alpha (the old per-cell intervals flagged more)."""
    rng = np.random.default_rng(2024)
    dimensions, personas, n, rate = 5, 10, 20, 0.3
    runs, with_flag = 200, 0
    for _ in range(runs):
        outcomes = []
        for d in range(dimensions):
            for p in ["baseline", *(f"p{i}" for i in range(personas))]:
                failed = int(rng.binomial(n, rate))
                outcomes += _outcomes(p, f"d{d}", failed, n - failed)
        summaries = summarise(cell_stats(outcomes))
        with_flag += any(s.flagged or s.lower for s in summaries)
    assert with_flag / runs <= 0.05
