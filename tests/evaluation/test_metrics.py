"""Metrics on hand-made numbers (exact)."""

from __future__ import annotations

import pytest

from roleplay.evaluation.metrics import compare_traits, has_side, same_side, summarise
from roleplay.evaluation.questionnaire import AccuracySettings

SETTINGS = AccuracySettings(midpoint=0.5, exclusion_margin=0.1)


def _traits(o: float, c: float, e: float, a: float, n: float) -> dict[str, float]:
    return {
        "openness": o,
        "conscientiousness": c,
        "extraversion": e,
        "agreeableness": a,
        "neuroticism": n,
    }


def test_cards_near_the_midpoint_have_no_side() -> None:
    assert not has_side(0.45, SETTINGS)
    assert not has_side(0.55, SETTINGS)
    assert not has_side(0.5, SETTINGS)
    # Exactly the margin away counts, despite 0.4 - 0.5 != -0.1 in floating point.
    assert has_side(0.4, SETTINGS) and has_side(0.6, SETTINGS)
    assert has_side(0.1, SETTINGS)


def test_an_estimate_exactly_at_the_midpoint_is_never_right() -> None:
    assert same_side(0.9, 0.7, 0.5)
    assert not same_side(0.9, 0.3, 0.5)
    assert not same_side(0.9, 0.5, 0.5)
    assert not same_side(0.1, 0.5, 0.5)


def test_compare_traits_errors_and_sides() -> None:
    card = _traits(0.45, 0.85, 0.3, 0.4, 0.25)
    estimate = _traits(0.6, 0.75, 0.5, 0.2, 0.75)
    result = compare_traits("Mira", card, estimate, SETTINGS)
    assert result.traits["openness"].counted is False
    assert result.traits["openness"].correct is None
    assert result.traits["conscientiousness"].correct is True
    assert result.traits["extraversion"].correct is False  # exactly 0.5
    assert result.traits["agreeableness"].correct is True
    assert result.traits["neuroticism"].correct is False
    assert result.traits["neuroticism"].abs_error == pytest.approx(0.5)
    assert result.mae == pytest.approx((0.15 + 0.1 + 0.2 + 0.2 + 0.5) / 5)
    assert (result.counted, result.correct) == (4, 2)
    assert result.acc_dim == 0.5
    assert result.full is False


def test_summary_pools_acc_dim_and_counts_full_characters() -> None:
    perfect = compare_traits(
        "A", _traits(0.9, 0.1, 0.9, 0.1, 0.5), _traits(0.8, 0.2, 0.7, 0.4, 0.9), SETTINGS
    )
    assert perfect.full is True and perfect.counted == 4
    half = compare_traits(
        "B", _traits(0.9, 0.9, 0.1, 0.1, 0.9), _traits(0.8, 0.2, 0.7, 0.4, 0.9), SETTINGS
    )
    assert (half.counted, half.correct) == (5, 3)
    summary = summarise([perfect, half])
    assert summary.counted_dims == 9
    assert summary.acc_dim == pytest.approx(7 / 9)
    assert summary.acc_full == 0.5
    assert summary.mae == pytest.approx((perfect.mae + half.mae) / 2)
    assert summary.trait_acc["neuroticism"] == 1.0  # only B counts, and B is right
    assert summary.trait_acc["conscientiousness"] == 0.5


def test_no_counted_trait_means_no_full_score() -> None:
    middle = _traits(0.5, 0.5, 0.5, 0.5, 0.5)
    result = compare_traits("M", middle, middle, SETTINGS)
    assert result.acc_dim is None and result.full is None
    summary = summarise([result])
    assert summary.acc_dim is None and summary.acc_full is None
    with pytest.raises(ValueError):
        summarise([])
