"""Emotion vectors: Plutchik's eight emotions as a fixed-order ``numpy`` vector.

Everything in the memory package speaks in 8-dim float vectors in the order of
``roleplay.cards.model.EMOTIONS``; dicts only appear at the edges (cards, CLI, JSON,
Chroma metadata). This module converts between the two and validates user input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from roleplay.cards.model import EMOTIONS
from roleplay.errors import RoleplayError

EMOTION_COUNT = len(EMOTIONS)
# Chroma metadata keys of the emotion vector used for retrieval (filterable, e.g.
# ``where={"emo_fear": {"$gt": 0.5}}``).
EMOTION_KEYS: tuple[str, ...] = tuple(f"emo_{name}" for name in EMOTIONS)


def zero_emotion() -> np.ndarray:
    return np.zeros(EMOTION_COUNT, dtype=np.float32)


def emotion_vector(values: Mapping[str, float]) -> np.ndarray:
    """A validated vector from ``{"joy": 0.8, ...}``; missing emotions are 0."""
    check_emotion_dict(values)
    vector = zero_emotion()
    for index, name in enumerate(EMOTIONS):
        vector[index] = float(values.get(name, 0.0))
    return vector


def emotion_dict(vector: np.ndarray) -> dict[str, float]:
    """``{"joy": ..., ...}`` with all eight keys, in EMOTIONS order."""
    return {name: round(float(value), 6) for name, value in zip(EMOTIONS, vector, strict=True)}


def check_emotion_dict(values: Mapping[str, float]) -> None:
    """Raise ``RoleplayError`` for unknown names or values outside 0..1 (NaN included)."""
    unknown = sorted(set(values) - set(EMOTIONS))
    if unknown:
        raise RoleplayError(
            f"unknown emotion {', '.join(map(repr, unknown))}; expected some of: "
            + ", ".join(EMOTIONS)
        )
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RoleplayError(f"emotion {name!r} must be a number between 0 and 1")
        if not math.isfinite(value) or not 0.0 <= value <= 1.0:
            raise RoleplayError(f"emotion {name!r} is {value}; it must be between 0 and 1")


def parse_emotion_spec(spec: str) -> dict[str, float]:
    """Parse the CLI form ``joy=0.8,fear=0.1`` (spaces allowed) into a validated dict."""
    if not spec.strip():
        raise RoleplayError("empty emotion; expected e.g. joy=0.8,fear=0.1")
    values: dict[str, float] = {}
    for part in spec.split(","):
        name, separator, number = part.partition("=")
        name = name.strip().lower()
        if not separator or not name or not number.strip():
            raise RoleplayError(f"cannot read emotion {part.strip()!r}; expected NAME=VALUE")
        if name in values:
            raise RoleplayError(f"emotion {name!r} is given twice")
        try:
            values[name] = float(number)
        except ValueError:
            raise RoleplayError(f"emotion {name!r} has a value that is not a number") from None
    check_emotion_dict(values)
    return values


def emotion_metadata(vector: np.ndarray) -> dict[str, float]:
    """The Chroma metadata entries for one memory's emotion vector."""
    return {key: float(value) for key, value in zip(EMOTION_KEYS, vector, strict=True)}


def emotion_from_metadata(metadata: Mapping[str, object]) -> np.ndarray:
    """The retrieval vector stored by ``emotion_metadata`` (missing keys read as 0)."""
    values = [metadata.get(key, 0.0) for key in EMOTION_KEYS]
    return np.array([float(v) if isinstance(v, int | float) else 0.0 for v in values], np.float32)
