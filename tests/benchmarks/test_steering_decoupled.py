"""benchmarks/steering_decoupled.py's arithmetic on hand-made numbers: the fitted cross-talk
matrix, the solved strengths and the paired comparison."""

from __future__ import annotations

import pytest

from benchmarks.persona_drift_targets import TRAITS
from benchmarks.steering_decoupled import compare, decoupled_strengths, fit_crosstalk

# Five tuning cards whose strengths vary in every trait.
STRENGTHS = {
    "a": dict(zip(TRAITS, [-0.1, 0.5, -0.7, 0.4, 0.8], strict=True)),
    "b": dict(zip(TRAITS, [0.3, 0.4, -0.1, 0.8, -0.8], strict=True)),
    "c": dict(zip(TRAITS, [-0.1, 0.7, -0.4, -0.2, -0.5], strict=True)),
    "d": dict(zip(TRAITS, [0.7, -0.5, 0.9, 0.7, -0.4], strict=True)),
    "e": dict(zip(TRAITS, [0.2, 0.2, -0.7, -0.8, -0.7], strict=True)),
}
WIDE = dict.fromkeys(TRAITS, (-1.0, 1.0))


def _true_matrix() -> list[list[float]]:
    """Each vector moves its own trait by 0.3 per unit; agreeableness's also moves
    neuroticism by -0.3 per unit (the cross-talk measured on the default model)."""
    matrix = [[0.3 if u == s else 0.0 for s in TRAITS] for u in TRAITS]
    matrix[TRAITS.index("neuroticism")][TRAITS.index("agreeableness")] = -0.3
    return matrix


def _measured(matrix: list[list[float]]) -> tuple[dict, dict]:  # type: ignore[type-arg]
    baseline = {n: {t: 0.5 + 0.01 * i for i, t in enumerate(TRAITS)} for n in STRENGTHS}
    alone = {
        steered: {
            n: {
                u: baseline[n][u]
                + matrix[TRAITS.index(u)][TRAITS.index(steered)] * STRENGTHS[n][steered]
                for u in TRAITS
            }
            for n in STRENGTHS
        }
        for steered in TRAITS
    }
    return baseline, alone


def test_the_fit_recovers_each_vectors_effect_on_every_trait() -> None:
    truth = _true_matrix()
    baseline, alone = _measured(truth)
    fitted = fit_crosstalk(baseline, alone, STRENGTHS)
    for row_fitted, row_true in zip(fitted, truth, strict=True):
        assert row_fitted == pytest.approx(row_true, abs=1e-3)


def test_a_trait_without_variation_on_the_tuning_cards_cannot_be_fitted() -> None:
    baseline, alone = _measured(_true_matrix())
    flat = {n: {**s, "openness": 0.2} for n, s in STRENGTHS.items()}
    with pytest.raises(SystemExit, match="do not vary in openness"):
        fit_crosstalk(baseline, alone, flat)


def test_solved_strengths_cancel_the_cross_talk_and_respect_the_bounds() -> None:
    matrix = _true_matrix()
    card = {"openness": 0.0, "conscientiousness": 0.0, "extraversion": 0.0}
    card |= {"agreeableness": 0.6, "neuroticism": 0.6}  # kind and anxious
    solved = decoupled_strengths(matrix, card, WIDE)

    def effects(strengths: dict[str, float]) -> list[float]:
        return [sum(row[j] * strengths[s] for j, s in enumerate(TRAITS)) for row in matrix]

    target = [0.3 * card[t] for t in TRAITS]  # what each trait's own vector does alone
    neuroticism = TRAITS.index("neuroticism")
    # summed at the card's strengths, agreeableness's vector cancels neuroticism's: no effect
    assert effects(card)[neuroticism] == pytest.approx(0.0)
    # the solve raises neuroticism (to its bound) and trims agreeableness a little, so that
    # both traits get most of their own effect
    assert solved["neuroticism"] == 1.0
    assert 0.45 < solved["agreeableness"] < 0.6
    got = effects(solved)
    assert got[neuroticism] > 0.75 * target[neuroticism]
    assert got[TRAITS.index("agreeableness")] > 0.75 * target[TRAITS.index("agreeableness")]
    assert solved["openness"] == pytest.approx(0.0, abs=1e-6)
    tight = {**WIDE, "neuroticism": (-1.0, 0.9)}
    assert decoupled_strengths(matrix, card, tight)["neuroticism"] <= 0.9
    # no cross-talk: the card's own strengths come back
    identity = [[0.3 if u == s else 0.0 for s in TRAITS] for u in TRAITS]
    assert decoupled_strengths(identity, card, WIDE) == pytest.approx(
        {t: card.get(t, 0.0) for t in TRAITS}, abs=1e-6
    )


def _payload(correct: dict[tuple[str, str], bool]) -> dict:  # type: ignore[type-arg]
    characters: dict[str, dict] = {}  # type: ignore[type-arg]
    for (name, trait), hit in correct.items():
        characters.setdefault(name, {"name": name, "traits": {}})["traits"][trait] = {
            "counted": True,
            "correct": hit,
        }
    for character in characters.values():
        for trait in TRAITS:
            character["traits"].setdefault(trait, {"counted": False, "correct": False})
    return {"results": [{"condition": "controller", "characters": list(characters.values())}]}


def test_the_comparison_is_paired_per_character_and_trait() -> None:
    before = {(n, t): t != "neuroticism" for n in "abcd" for t in TRAITS}
    after = {**before, ("a", "neuroticism"): True, ("b", "neuroticism"): True}
    rows = {row["trait"]: row for row in compare(_payload(before), _payload(after))}
    assert rows["neuroticism"]["before"] == 0.0 and rows["neuroticism"]["after"] == 0.5
    assert rows["neuroticism"]["difference"] == 0.5
    low, high = rows["neuroticism"]["interval"]
    assert 0.0 <= low <= 0.5 <= high <= 1.0
    assert rows["openness"]["difference"] == 0.0
    assert rows["all"]["n"] == 20 and rows["all"]["difference"] == pytest.approx(0.1)
    with pytest.raises(SystemExit, match="different"):
        compare(_payload(before), _payload({("a", "openness"): True}))
