"""Emotion vectors: Plutchik's eight emotions as a fixed-order ``numpy`` vector.

Everything in the memory package speaks in 8-dim float vectors in the order of
``roleplay.cards.model.EMOTIONS``; dicts only appear at the edges (cards, CLI, JSON,
Chroma metadata). This module converts between the two and validates user input.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping

import numpy as np

from roleplay.cards.model import EMOTIONS
from roleplay.errors import RoleplayError

EMOTION_COUNT = len(EMOTIONS)
# The Chroma metadata entry that holds a memory's emotion: JSON
# ``{"vector": [8 values in EMOTIONS order], "raw": [the scorer's 8 raw scores]}``. One
# entry, not one per value: Chroma's SQLite indexes every entry, and each costs write time
# (measured at 40k-100k memories: nine entries -> two saved ~20% of a write, two -> one
# another ~5-10%), for per-emotion ``where`` filters that nothing used.
EMOTION_METADATA_KEY = "emotion"
# Stores written before hold one entry per emotion and the raw scores under "emo_raw"
# (a JSON list); they are still read. Records show the raw scores under that name.
LEGACY_EMOTION_KEYS: tuple[str, ...] = tuple(f"emo_{name}" for name in EMOTIONS)
RAW_EMOTION_KEY = "emo_raw"


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


def emotion_metadata(vector: np.ndarray, raw: np.ndarray) -> dict[str, str]:
    """The Chroma metadata entry for one memory's emotion vector and raw scores."""
    return {EMOTION_METADATA_KEY: json.dumps({"vector": _rounded(vector), "raw": _rounded(raw)})}


def encode_vector(vector: np.ndarray) -> str:
    """Compact JSON for a vector (6 decimals: far below the scorers' precision)."""
    return json.dumps(_rounded(vector))


def _rounded(vector: np.ndarray) -> list[float]:
    return [round(float(value), 6) for value in vector]


def emotion_from_metadata(metadata: Mapping[str, object]) -> np.ndarray:
    """The retrieval vector stored by ``emotion_metadata``, or by the older layouts. Missing
    or unreadable values read as 0 (no emotion), never as an error: one hand-edited memory
    must not break recall."""
    packed = _packed_entry(metadata)
    if packed is not None:
        values = packed.get("vector") if isinstance(packed, dict) else packed
        return _clipped_vector(values)
    legacy = [metadata.get(key, 0.0) for key in LEGACY_EMOTION_KEYS]
    return np.array([_number(value) for value in legacy], np.float32)


def raw_emotion_from_metadata(metadata: Mapping[str, object]) -> np.ndarray | None:
    """The scorer's raw scores, if stored (memories with explicit emotions have them too)."""
    packed = _packed_entry(metadata)
    if isinstance(packed, dict):
        values = packed.get("raw")
    else:
        stored = metadata.get(RAW_EMOTION_KEY)
        values = _json(stored) if isinstance(stored, str) else None
    if not isinstance(values, list) or len(values) != EMOTION_COUNT:
        return None
    if not all(_finite(value) for value in values):
        return None
    return np.array(values, np.float32)


def _packed_entry(metadata: Mapping[str, object]) -> object | None:
    stored = metadata.get(EMOTION_METADATA_KEY)
    if not isinstance(stored, str):
        return None
    value = _json(stored)
    # A bare list is the vector alone (the layout between the two others).
    return value if isinstance(value, dict | list) else {}


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _clipped_vector(values: object) -> np.ndarray:
    if not isinstance(values, list) or len(values) != EMOTION_COUNT:
        return zero_emotion()
    return np.array([_number(value) for value in values], np.float32)


def _finite(value: object) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _number(value: object) -> float:
    if isinstance(value, int | float) and _finite(value):
        return min(1.0, max(0.0, float(value)))
    return 0.0
