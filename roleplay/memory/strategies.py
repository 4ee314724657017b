"""Retrieval strategies: pure functions from similarity scores to a ranking.

The strategies of "Emotional RAG" (Huang et al., 2024) plus the semantic baseline. Each takes
the candidates' semantic similarities to the query and emotional similarities to the mood
(``semantic_similarity`` / ``emotional_similarity`` below) and returns the best ``k``:

- ``semantic``: semantic similarity only.
- ``c-a`` (combination, additive): ``semantic + w * strength * emotional``; ranking by this
  sum is ranking by semantic distance plus weighted emotional distance.
- ``c-m`` (combination, multiplicative): ``semantic01 * emotional01 ** (w * strength)``,
  both similarities mapped to 0..1.
- ``s-c`` (sequential, semantic first): the top ``semantic_pool`` by semantic similarity,
  re-ranked by emotional similarity.
- ``s-s`` (sequential, emotion first): the top ``emotional_pool`` by emotional similarity,
  re-ranked by semantic similarity.

``strength`` (0..1) is how emotional the mood is at all (the calibrated scorer's 1 - P(neutral),
or the sum of an explicit emotion override). A neutral mood has an arbitrary direction, so it
must not steer recall: the combinations scale the emotional term by it, and the sequential
strategies skip their emotional stage below ``min_mood_strength``. Every function breaks ties
by the other similarity and then by candidate index, so rankings are fully deterministic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from roleplay.errors import RoleplayError

STRATEGY_NAMES: tuple[str, ...] = ("semantic", "c-a", "c-m", "s-c", "s-s")
_EPSILON = 1e-9


@dataclass(frozen=True)
class StrategyWeights:
    """Tunable knobs; defaults come from ``data/memory_defaults.yaml`` (tuned on dev data)."""

    emotion_weight: float = 1.0
    product_exponent: float = 1.0
    semantic_pool: int = 4
    emotional_pool: int = 20
    min_mood_strength: float = 0.2

    def __post_init__(self) -> None:
        if self.emotion_weight < 0 or self.product_exponent < 0:
            raise ValueError("strategy weights must be non-negative")
        if self.semantic_pool < 1 or self.emotional_pool < 1:
            raise ValueError("the sequential strategies' pools must hold at least one memory")


@dataclass(frozen=True)
class Ranking:
    """The best candidates, best first: indices into the inputs and their scores."""

    indices: np.ndarray
    scores: np.ndarray
    semantic: np.ndarray
    emotional: np.ndarray


RankingFunction = Callable[[np.ndarray, np.ndarray, int, StrategyWeights, float], Ranking]


def semantic_similarity(query: np.ndarray, embeddings: np.ndarray) -> np.ndarray:
    """Cosine similarity of each row of ``embeddings`` (n, d) to ``query`` (d,)."""
    return _cosine(query, embeddings)


def emotional_similarity(mood: np.ndarray, emotions: np.ndarray) -> np.ndarray:
    """Cosine similarity of each emotion vector (n, 8) to the mood (8,); 0 for zero vectors."""
    return _cosine(mood, emotions)


def mood_strength(mood: np.ndarray) -> float:
    """How emotional a mood vector is at all, 0..1 (the sum of its intensities, capped)."""
    return float(min(1.0, max(0.0, float(np.sum(mood)))))


def rank_semantic(
    semantic: np.ndarray, emotional: np.ndarray, k: int, weights: StrategyWeights, strength: float
) -> Ranking:
    return _top(semantic, semantic, emotional, k, semantic, emotional)


def rank_combined_additive(
    semantic: np.ndarray, emotional: np.ndarray, k: int, weights: StrategyWeights, strength: float
) -> Ranking:
    scores = semantic + weights.emotion_weight * strength * emotional
    return _top(scores, semantic, emotional, k, semantic, emotional)


def rank_combined_multiplicative(
    semantic: np.ndarray, emotional: np.ndarray, k: int, weights: StrategyWeights, strength: float
) -> Ranking:
    semantic01 = (1.0 + semantic) / 2.0
    emotional01 = (1.0 + emotional) / 2.0
    scores = semantic01 * emotional01 ** (weights.product_exponent * strength)
    return _top(scores, semantic, emotional, k, semantic, emotional)


def rank_semantic_then_emotional(
    semantic: np.ndarray, emotional: np.ndarray, k: int, weights: StrategyWeights, strength: float
) -> Ranking:
    if strength < weights.min_mood_strength:
        return rank_semantic(semantic, emotional, k, weights, strength)
    pool = _order(semantic, emotional)[: weights.semantic_pool]
    return _rerank(pool, emotional, semantic, k, semantic, emotional)


def rank_emotional_then_semantic(
    semantic: np.ndarray, emotional: np.ndarray, k: int, weights: StrategyWeights, strength: float
) -> Ranking:
    if strength < weights.min_mood_strength:
        return rank_semantic(semantic, emotional, k, weights, strength)
    pool = _order(emotional, semantic)[: weights.emotional_pool]
    return _rerank(pool, semantic, emotional, k, semantic, emotional)


RANKING_FUNCTIONS: dict[str, RankingFunction] = {
    "semantic": rank_semantic,
    "c-a": rank_combined_additive,
    "c-m": rank_combined_multiplicative,
    "s-c": rank_semantic_then_emotional,
    "s-s": rank_emotional_then_semantic,
}


def check_strategy(name: str) -> str:
    """The strategy name, or a ``RoleplayError`` naming the valid ones."""
    if name not in RANKING_FUNCTIONS:
        raise RoleplayError(
            f"unknown memory strategy {name!r}; expected one of: {', '.join(STRATEGY_NAMES)}"
        )
    return name


def rank(
    strategy: str,
    semantic: np.ndarray,
    emotional: np.ndarray,
    k: int,
    weights: StrategyWeights,
    strength: float = 1.0,
) -> Ranking:
    """Rank candidates with the named strategy (see the module docstring)."""
    if semantic.shape != emotional.shape or semantic.ndim != 1:
        raise ValueError("semantic and emotional similarities must be 1-d and the same length")
    if k < 1:
        raise ValueError("k must be at least 1")
    return RANKING_FUNCTIONS[check_strategy(strategy)](semantic, emotional, k, weights, strength)


def _cosine(vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
    rows = np.atleast_2d(np.asarray(rows, dtype=np.float64))
    vector = np.asarray(vector, dtype=np.float64)
    norms = np.linalg.norm(rows, axis=1) * np.linalg.norm(vector)
    dots = rows @ vector
    return np.where(norms > _EPSILON, dots / np.maximum(norms, _EPSILON), 0.0)


def _order(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Indices by primary descending, then secondary descending, then index ascending."""
    indices = np.arange(len(primary))
    # np.lexsort sorts by the last key first.
    return np.lexsort((indices, -secondary, -primary))


def _top(
    scores: np.ndarray,
    tie_breaker: np.ndarray,
    fallback: np.ndarray,
    k: int,
    semantic: np.ndarray,
    emotional: np.ndarray,
) -> Ranking:
    indices = np.arange(len(scores))
    order = np.lexsort((indices, -fallback, -tie_breaker, -scores))[:k]
    return Ranking(order, scores[order], semantic[order], emotional[order])


def _rerank(
    pool: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    k: int,
    semantic: np.ndarray,
    emotional: np.ndarray,
) -> Ranking:
    order = pool[np.lexsort((pool, -secondary[pool], -primary[pool]))][:k]
    return Ranking(order, primary[order], semantic[order], emotional[order])
