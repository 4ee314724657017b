"""Each retrieval strategy's exact ranking on small hand-made vectors."""

from __future__ import annotations

import numpy as np
import pytest

from roleplay.errors import RoleplayError
from roleplay.memory.strategies import (
    STRATEGY_NAMES,
    StrategyWeights,
    check_strategy,
    emotional_similarity,
    mood_strength,
    rank,
    semantic_similarity,
)

JOY, FEAR = 0, 2
QUERY = np.array([1.0, 0.0])
# Four memories A-D: semantic similarity to the query falls from A to D, while the
# emotion moves from fear (A) through mixed (B) to joy (C, D).
EMBEDDINGS = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
EMOTIONS = np.zeros((4, 8))
EMOTIONS[0, FEAR] = 1.0
EMOTIONS[1, JOY], EMOTIONS[1, FEAR] = 0.6, 0.8
EMOTIONS[2, JOY] = 1.0
EMOTIONS[3, JOY] = 1.0
JOYFUL_MOOD = np.eye(8)[JOY]
A, B, C, D = range(4)


def ranked(
    strategy: str, weights: StrategyWeights, mood: np.ndarray = JOYFUL_MOOD, k: int = 4
) -> list[int]:
    semantic = semantic_similarity(QUERY, EMBEDDINGS)
    emotional = emotional_similarity(mood, EMOTIONS)
    return rank(strategy, semantic, emotional, k, weights, mood_strength(mood)).indices.tolist()


def test_similarities_are_cosines() -> None:
    assert semantic_similarity(QUERY, EMBEDDINGS) == pytest.approx([1.0, 0.8, 0.6, 0.0])
    assert emotional_similarity(JOYFUL_MOOD, EMOTIONS) == pytest.approx([0.0, 0.6, 1.0, 1.0])


def test_zero_vectors_have_zero_emotional_similarity() -> None:
    assert emotional_similarity(np.zeros(8), EMOTIONS).tolist() == [0.0] * 4
    assert emotional_similarity(JOYFUL_MOOD, np.zeros((2, 8))).tolist() == [0.0, 0.0]


def test_semantic_ignores_the_mood() -> None:
    assert ranked("semantic", StrategyWeights()) == [A, B, C, D]


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        # Scores 1.0, 1.4, 1.6, 1.0: A and D tie and the closer topic (A) wins.
        (1.0, [C, B, A, D]),
        # Scores 1.0, 0.98, 0.9, 0.3: a small weight leaves the semantic order.
        (0.3, [A, B, C, D]),
        (0.0, [A, B, C, D]),
    ],
)
def test_combined_additive(weight: float, expected: list[int]) -> None:
    assert ranked("c-a", StrategyWeights(emotion_weight=weight)) == expected


def test_combined_additive_scores() -> None:
    semantic = semantic_similarity(QUERY, EMBEDDINGS)
    emotional = emotional_similarity(JOYFUL_MOOD, EMOTIONS)
    ranking = rank("c-a", semantic, emotional, 2, StrategyWeights(emotion_weight=1.0))
    assert ranking.indices.tolist() == [C, B]
    assert ranking.scores == pytest.approx([1.6, 1.4])
    assert ranking.semantic == pytest.approx([0.6, 0.8])
    assert ranking.emotional == pytest.approx([1.0, 0.6])


def test_combined_multiplicative() -> None:
    # (1+sem)/2 * (1+emo)/2: A 1.0*0.5, B 0.9*0.8, C 0.8*1.0, D 0.5*1.0.
    assert ranked("c-m", StrategyWeights(product_exponent=1.0)) == [C, B, A, D]
    assert ranked("c-m", StrategyWeights(product_exponent=0.0)) == [A, B, C, D]


@pytest.mark.parametrize(
    ("pool", "expected"),
    [(1, [A]), (2, [B, A]), (3, [C, B, A]), (4, [C, D, B, A])],
)
def test_semantic_then_emotional(pool: int, expected: list[int]) -> None:
    # First the `pool` closest topics, then the closest feelings among them (C and D
    # tie on emotion; C is the closer topic).
    assert ranked("s-c", StrategyWeights(semantic_pool=pool)) == expected


@pytest.mark.parametrize(
    ("pool", "expected"),
    [(1, [C]), (2, [C, D]), (3, [B, C, D]), (4, [A, B, C, D])],
)
def test_emotional_then_semantic(pool: int, expected: list[int]) -> None:
    # First the `pool` closest feelings (C and D tie; C is the closer topic), then topic.
    assert ranked("s-s", StrategyWeights(emotional_pool=pool)) == expected


@pytest.mark.parametrize("strategy", STRATEGY_NAMES)
def test_neutral_mood_falls_back_to_semantic(strategy: str) -> None:
    weights = StrategyWeights(semantic_pool=4, emotional_pool=4)
    assert ranked(strategy, weights, mood=np.zeros(8)) == [A, B, C, D]


def test_weak_mood_pulls_less() -> None:
    weak, strong = 0.25 * JOYFUL_MOOD, 0.8 * JOYFUL_MOOD
    # c-a scales the emotional term by the mood's strength: 0.25 keeps the semantic order.
    assert ranked("c-a", StrategyWeights(emotion_weight=1.0), mood=weak) == [A, B, C, D]
    assert ranked("c-a", StrategyWeights(emotion_weight=1.0), mood=strong) == [C, B, A, D]
    # The sequential strategies skip the emotional stage below min_mood_strength.
    below = StrategyWeights(semantic_pool=3, min_mood_strength=0.3)
    assert ranked("s-c", below, mood=weak) == [A, B, C, D]
    assert ranked("s-c", below, mood=strong) == [C, B, A]


def test_k_truncates() -> None:
    assert ranked("c-a", StrategyWeights(emotion_weight=1.0), k=1) == [C]


def test_rankings_are_deterministic_with_ties() -> None:
    semantic = np.array([0.5, 0.5, 0.5])
    emotional = np.array([0.2, 0.2, 0.2])
    for strategy in STRATEGY_NAMES:
        weights = StrategyWeights(semantic_pool=3, emotional_pool=3)
        ranking = rank(strategy, semantic, emotional, 3, weights)
        assert ranking.indices.tolist() == [0, 1, 2]


def test_unknown_strategy_is_a_user_error() -> None:
    with pytest.raises(RoleplayError, match="unknown memory strategy 'c-x'"):
        check_strategy("c-x")
    with pytest.raises(RoleplayError):
        rank("nope", np.zeros(1), np.zeros(1), 1, StrategyWeights())


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError):
        rank("c-a", np.zeros(2), np.zeros(3), 1, StrategyWeights())
    with pytest.raises(ValueError):
        rank("c-a", np.zeros(2), np.zeros(2), 0, StrategyWeights())
    with pytest.raises(ValueError):
        StrategyWeights(semantic_pool=0)
    with pytest.raises(ValueError):
        StrategyWeights(emotional_pool=0)
    with pytest.raises(ValueError):
        StrategyWeights(emotion_weight=-1.0)


def test_mood_strength_is_capped() -> None:
    assert mood_strength(np.zeros(8)) == 0.0
    assert mood_strength(np.full(8, 0.5)) == 1.0
    assert mood_strength(0.3 * JOYFUL_MOOD) == pytest.approx(0.3)
