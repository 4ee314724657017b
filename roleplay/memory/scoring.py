"""The emotion scorer contract and the default scorer.

Anything with ``score(texts) -> (n, 8)`` values in 0..1 (Plutchik order) is an
``EmotionScorer``: the MiniLM prototype scorer (default), the NRC lexicon baseline, or a
transformer emotion classifier plugged in later. Scorers that can also explain themselves
expose ``score_detailed``; the store keeps those raw scores beside the vector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class EmotionScorer(Protocol):
    def score(self, texts: Sequence[str]) -> np.ndarray:
        """Shape ``(len(texts), 8)``, float32 values in 0..1, columns in EMOTIONS order."""
        ...


@dataclass(frozen=True)
class EmotionScores:
    """Retrieval vectors and the scorer's raw (uncalibrated) scores, both ``(n, 8)``."""

    vectors: np.ndarray
    raw: np.ndarray


@runtime_checkable
class DetailedEmotionScorer(EmotionScorer, Protocol):
    def score_detailed(self, texts: Sequence[str]) -> EmotionScores: ...


def score_emotions(scorer: EmotionScorer, texts: Sequence[str]) -> EmotionScores:
    """Score ``texts``; a scorer without raw scores reports its vectors as raw."""
    if not texts:
        empty = np.zeros((0, 8), dtype=np.float32)
        return EmotionScores(empty, empty)
    if isinstance(scorer, DetailedEmotionScorer):
        scores = scorer.score_detailed(texts)
    else:
        vectors = scorer.score(texts)
        scores = EmotionScores(vectors, vectors)
    _check_shape(scores.vectors, len(texts))
    return scores


def _check_shape(vectors: np.ndarray, count: int) -> None:
    if vectors.shape != (count, 8):
        raise ValueError(f"emotion scorer returned shape {vectors.shape}, expected ({count}, 8)")
    if not np.all(np.isfinite(vectors)) or vectors.min() < 0.0 or vectors.max() > 1.0:
        raise ValueError("emotion scorer returned values outside 0..1")


@lru_cache(maxsize=1)
def default_emotion_scorer() -> EmotionScorer:
    """The calibrated MiniLM prototype scorer (shares the process-wide encoder)."""
    from roleplay.memory.prototype_scorer import PrototypeEmotionScorer

    return PrototypeEmotionScorer()
