"""Calibration of the prototype emotion scorer: features -> probabilities.

A multinomial logistic regression over nine classes (neutral + the eight emotions), fitted
once on hand-written labelled sentences (``data/emotion_calibration.yaml``) and stored as
plain numbers in ``data/emotion_calibration_fit.json``, so scoring needs only ``numpy``.
Dropping the neutral class leaves an 8-dim vector whose length says how emotional a text
is: a neutral question scores near zero and does not pull recall towards any emotion.

Refit after editing the prototypes or the labelled sentences::

    python -m roleplay.memory.calibration
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from roleplay.memory.data_files import (
    CALIBRATION_FIT_PATH,
    CALIBRATION_SET_PATH,
    NEUTRAL,
    PROTOTYPES_PATH,
    load_sentence_groups,
)
from roleplay.memory.emotions import EMOTIONS

CLASSES: tuple[str, ...] = (NEUTRAL, *EMOTIONS)
# Strong enough regularisation that ~20 sentences per class cannot be memorised.
REGULARISATION_C = 1.0


@dataclass(frozen=True)
class LinearCalibration:
    """``softmax(((features - mean) / scale) @ coef.T + intercept)`` over CLASSES."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]
    intercept: tuple[float, ...]
    prototypes_sha256: str
    training_sentences: int

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Shape ``(n, 9)``: class probabilities in CLASSES order."""
        standardised = (features - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = standardised @ np.asarray(self.coef).T + np.asarray(self.intercept)
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return np.asarray(exp / exp.sum(axis=1, keepdims=True), dtype=np.float32)

    def emotion_probabilities(self, features: np.ndarray) -> np.ndarray:
        """Shape ``(n, 8)``: the eight emotions' probabilities, neutral left out."""
        return self.probabilities(features)[:, 1:]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> LinearCalibration:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            features=tuple(data["features"]),
            mean=tuple(data["mean"]),
            scale=tuple(data["scale"]),
            coef=tuple(tuple(row) for row in data["coef"]),
            intercept=tuple(data["intercept"]),
            prototypes_sha256=str(data["prototypes_sha256"]),
            training_sentences=int(data["training_sentences"]),
        )


def prototypes_digest(path: Path = PROTOTYPES_PATH) -> str:
    """Identifies the prototype file a calibration was fitted against."""
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fit_calibration(
    features: np.ndarray, labels: Sequence[str], feature_names: Sequence[str]
) -> LinearCalibration:
    """Fit the logistic regression on ``features`` (n, F) with labels from CLASSES."""
    from sklearn.linear_model import LogisticRegression

    targets = np.array([CLASSES.index(label) for label in labels])
    mean = features.mean(axis=0)
    scale = features.std(axis=0) + 1e-6
    model = LogisticRegression(C=REGULARISATION_C, max_iter=5000)
    model.fit((features - mean) / scale, targets)
    return LinearCalibration(
        features=tuple(feature_names),
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(tuple(float(v) for v in row) for row in model.coef_),
        intercept=tuple(float(v) for v in model.intercept_),
        prototypes_sha256=prototypes_digest(),
        training_sentences=len(labels),
    )


def labelled_sentences(path: Path = CALIBRATION_SET_PATH) -> tuple[list[str], list[str]]:
    """(sentences, labels) from the calibration set."""
    groups = load_sentence_groups(path, allow_neutral=True)
    texts = [text for sentences in groups.values() for text in sentences]
    labels = [label for label, sentences in groups.items() for _ in sentences]
    return texts, labels


def main() -> None:
    """Refit and save the default scorer's calibration."""
    from roleplay.memory.prototype_scorer import DEFAULT_FEATURES, PrototypeEmotionScorer

    texts, labels = labelled_sentences()
    scorer = PrototypeEmotionScorer(calibration=None)
    calibration = fit_calibration(scorer.features(texts), labels, DEFAULT_FEATURES)
    calibration.save(CALIBRATION_FIT_PATH)
    predicted = calibration.probabilities(scorer.features(texts)).argmax(axis=1)
    accuracy = float(
        np.mean([CLASSES[i] == label for i, label in zip(predicted, labels, strict=True)])
    )
    print(f"fitted on {len(texts)} sentences, training accuracy {accuracy:.2f}")
    print(f"wrote {CALIBRATION_FIT_PATH}")


if __name__ == "__main__":
    main()
