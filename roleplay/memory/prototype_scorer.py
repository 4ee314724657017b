"""The default emotion scorer: MiniLM similarity to emotion prototypes, calibrated.

Each emotion's prototype sentences (``data/emotion_prototypes.yaml``) are embedded once and
averaged into a centroid; a text's raw scores are its cosine similarities to the eight
centroids. Raw similarities are all alike (~0.1-0.5) and topic-biased, so a fitted linear
calibration (see ``calibration.py``) combines them with the similarity to each emotion's
nearest prototypes and the NRC lexicon's word shares, and turns them into probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import cached_property
from typing import Literal

import numpy as np

from roleplay.memory.calibration import LinearCalibration, prototypes_digest
from roleplay.memory.data_files import CALIBRATION_FIT_PATH, PROTOTYPES_PATH, load_sentence_groups
from roleplay.memory.emotions import EMOTIONS
from roleplay.memory.encoder import SentenceEncoder, get_encoder
from roleplay.memory.lexicon import LexiconEmotionScorer
from roleplay.memory.scoring import EmotionScores

DEFAULT_FEATURES: tuple[str, ...] = ("prototype", "prototype_top3", "lexicon")
# "prototype_top3": mean similarity to an emotion's three nearest prototype sentences. The
# centroid blurs an emotion into one direction; the nearest few still catch a specific
# phrasing ("out of the blue") that one good prototype sentence matches closely.
NEAREST = 3


class PrototypeEmotionScorer:
    """``score(texts) -> (n, 8)`` probabilities; ``raw_scores`` are centroid similarities."""

    def __init__(
        self,
        *,
        encoder: SentenceEncoder | None = None,
        prototypes: Mapping[str, Sequence[str]] | None = None,
        calibration: LinearCalibration | Literal["default"] | None = "default",
    ) -> None:
        """``calibration=None`` gives an uncalibrated scorer (used to fit a calibration);
        the default is the fitted calibration shipped with the default prototypes."""
        self._encoder = encoder
        self._prototypes = prototypes
        if calibration == "default":
            calibration = _load_default_calibration() if prototypes is None else None
        self._calibration = calibration
        self._lexicon = LexiconEmotionScorer()

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            self._encoder = get_encoder()
        return self._encoder

    def raw_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Cosine similarity of each text to each emotion's centroid, ``(n, 8)``."""
        return np.asarray(self.encoder.encode(texts) @ self._centroids.T, dtype=np.float32)

    def nearest_prototype_scores(self, texts: Sequence[str]) -> np.ndarray:
        """Mean similarity to each emotion's NEAREST closest prototypes, ``(n, 8)``."""
        similarities = self.encoder.encode(texts) @ self._prototype_matrix.T
        columns = []
        for start, stop in self._prototype_spans:
            group = np.sort(similarities[:, start:stop], axis=1)[:, -NEAREST:]
            columns.append(group.mean(axis=1))
        return np.stack(columns, axis=1).astype(np.float32)

    def features(self, texts: Sequence[str], names: Sequence[str] = DEFAULT_FEATURES) -> np.ndarray:
        """The calibration's input: the named feature blocks side by side."""
        blocks: dict[str, Callable[[Sequence[str]], np.ndarray]] = {
            "prototype": self.raw_scores,
            "prototype_top3": self.nearest_prototype_scores,
            "lexicon": self._lexicon.score,
        }
        return np.concatenate([blocks[name](texts) for name in names], axis=1)

    def score_detailed(self, texts: Sequence[str]) -> EmotionScores:
        raw = self.raw_scores(texts)
        if self._calibration is None:
            # Uncalibrated fallback: similarities clipped into 0..1, so the contract holds.
            return EmotionScores(np.clip(raw, 0.0, 1.0), raw)
        features = self.features(texts, self._calibration.features)
        vectors = np.clip(self._calibration.emotion_probabilities(features), 0.0, 1.0)
        return EmotionScores(vectors.astype(np.float32), raw)

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return self.score_detailed(texts).vectors

    @cached_property
    def _groups(self) -> list[np.ndarray]:
        """Each emotion's prototype embeddings, in EMOTIONS order."""
        groups = self._prototypes or load_sentence_groups(PROTOTYPES_PATH, allow_neutral=False)
        missing = [name for name in EMOTIONS if not groups.get(name)]
        if missing:
            raise ValueError(f"no prototype sentences for: {', '.join(missing)}")
        return [self.encoder.encode(list(groups[name])) for name in EMOTIONS]

    @cached_property
    def _centroids(self) -> np.ndarray:
        centroids = np.stack([group.mean(axis=0) for group in self._groups])
        return centroids / np.linalg.norm(centroids, axis=1, keepdims=True)

    @cached_property
    def _prototype_matrix(self) -> np.ndarray:
        return np.concatenate(self._groups, axis=0)

    @cached_property
    def _prototype_spans(self) -> list[tuple[int, int]]:
        ends = np.cumsum([len(group) for group in self._groups])
        return [
            (int(end - len(group)), int(end)) for end, group in zip(ends, self._groups, strict=True)
        ]


def _load_default_calibration() -> LinearCalibration | None:
    if not CALIBRATION_FIT_PATH.exists():
        return None
    calibration = LinearCalibration.load(CALIBRATION_FIT_PATH)
    if calibration.prototypes_sha256 != prototypes_digest():
        raise RuntimeError(
            f"{CALIBRATION_FIT_PATH.name} was fitted on other prototype sentences; refit it "
            "with `python -m roleplay.memory.calibration`"
        )
    return calibration
