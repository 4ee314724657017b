"""Metrics on hand-made results: exact rates, variances, gaps, flags; a seeded bootstrap."""

from __future__ import annotations

import pytest

from bias_audit.metrics import (
    Outcome,
    bootstrap_ci,
    cell_seed,
    cell_stats,
    macro_harmful_difference,
    summarise,
)


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
    cells = {(c.persona, c.dimension): c for c in cell_stats(HAND_MADE, seed=0)}
    assert len(cells) == 6
    baseline = cells[("baseline", "toxic_agreement")]
    assert (baseline.n, baseline.failures, baseline.excluded, baseline.rate) == (4, 0, 2, 0.0)
    b = cells[("b", "toxic_agreement")]
    assert (b.n, b.failures, b.excluded, b.rate) == (4, 1, 4, 0.25)
    assert cells[("a", "offensiveness")].rate == 0.5
    for cell in cells.values():
        assert cell.ci_low is not None and cell.ci_high is not None and cell.rate is not None
        assert 0.0 <= cell.ci_low <= cell.rate <= cell.ci_high <= 1.0


def test_harmful_difference_and_gaps_exact() -> None:
    cells = cell_stats(HAND_MADE, seed=0)
    summaries = {s.dimension: s for s in summarise(cells)}
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
    (summary,) = summarise(cell_stats(outcomes, seed=1))
    # rates 0.5, 0.25, 0.0: mean 0.25, population variance (0.0625 + 0 + 0.0625) / 3
    assert summary.harmful_difference == pytest.approx(0.125 / 3)


def test_flag_only_when_interval_lies_above_baseline() -> None:
    outcomes = [
        *_outcomes("baseline", "offensiveness", 0, 20),
        *_outcomes("always", "offensiveness", 20, 0),
        *_outcomes("sometimes", "offensiveness", 1, 19),
    ]
    cells = cell_stats(outcomes, seed=3)
    (summary,) = summarise(cells)
    assert summary.flagged == ["always"]
    by_persona = {c.persona: c for c in cells}
    assert by_persona["always"].above_baseline
    assert (by_persona["always"].ci_low, by_persona["always"].ci_high) == (1.0, 1.0)
    assert not by_persona["sometimes"].above_baseline  # its interval reaches 0, the baseline's


def test_no_flag_from_too_few_replies() -> None:
    outcomes = [
        *_outcomes("baseline", "toxic_agreement", 0, 4),
        *_outcomes("one", "toxic_agreement", 1, 0, excluded=3),
    ]
    cells = cell_stats(outcomes, seed=0)
    by_persona = {c.persona: c for c in cells}
    # Degenerate single-point intervals lie apart, but 1 and 4 replies are not evidence.
    assert by_persona["one"].ci_low == 1.0 and by_persona["baseline"].ci_high == 0.0
    (summary,) = summarise(cells)
    assert summary.flagged == [] and not by_persona["one"].above_baseline
    assert summary.max_gap == 1.0


def test_fully_excluded_cell_has_no_rate() -> None:
    outcomes = [*_outcomes("baseline", "toxic_agreement", 0, 0, excluded=3)]
    (cell,) = cell_stats(outcomes, seed=0)
    assert (cell.n, cell.excluded, cell.rate, cell.ci_low) == (0, 3, None, None)
    (summary,) = summarise([cell])
    assert summary.harmful_difference is None and summary.max_gap is None


def test_bootstrap_is_seeded_and_reproducible() -> None:
    outcomes = [True, False, False, True, False, False, False, True, False, False]
    first = bootstrap_ci(outcomes, 42)
    assert bootstrap_ci(outcomes, 42) == first
    assert bootstrap_ci(outcomes, 43) != first
    assert first[0] < 0.3 < first[1]
    assert bootstrap_ci([False] * 5, 0) == (0.0, 0.0)
    with pytest.raises(ValueError):
        bootstrap_ci([], 0)


def test_cell_interval_does_not_depend_on_other_cells() -> None:
    alone = cell_stats(_outcomes("a", "regard", 3, 5), seed=7)[0]
    together = {
        c.persona: c for c in cell_stats(HAND_MADE + _outcomes("a", "regard", 3, 5), seed=7)
    }
    assert (together["a"].ci_low, together["a"].ci_high) != (None, None)
    again = next(
        c
        for c in cell_stats(HAND_MADE + _outcomes("a", "regard", 3, 5), seed=7)
        if c.dimension == "regard"
    )
    assert (again.ci_low, again.ci_high) == (alone.ci_low, alone.ci_high)
    assert cell_seed(7, "a", "regard").entropy == cell_seed(7, "a", "regard").entropy
