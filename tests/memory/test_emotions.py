"""Emotion vectors, the CLI's NAME=VALUE form and the Chroma metadata round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from roleplay.cards.model import EMOTIONS
from roleplay.errors import RoleplayError
from roleplay.memory.emotions import (
    EMOTION_METADATA_KEY,
    LEGACY_EMOTION_KEYS,
    RAW_EMOTION_KEY,
    emotion_dict,
    emotion_from_metadata,
    emotion_metadata,
    emotion_vector,
    parse_emotion_spec,
    raw_emotion_from_metadata,
)


def test_vector_follows_the_cards_emotion_order() -> None:
    vector = emotion_vector({"anticipation": 0.5, "joy": 1.0})
    assert vector.tolist() == [1.0, 0, 0, 0, 0, 0, 0, 0.5]
    assert list(emotion_dict(vector)) == list(EMOTIONS)


def test_parse_spec() -> None:
    assert parse_emotion_spec("joy=0.8, fear=0.1") == {"joy": 0.8, "fear": 0.1}
    assert parse_emotion_spec("Sadness=1") == {"sadness": 1.0}


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty emotion"),
        ("happiness=0.5", "unknown emotion 'happiness'"),
        ("joy=1.5", "must be between 0 and 1"),
        ("joy=-0.1", "must be between 0 and 1"),
        ("joy=nan", "must be between 0 and 1"),
        ("joy=inf", "must be between 0 and 1"),
        ("joy", "expected NAME=VALUE"),
        ("joy=", "expected NAME=VALUE"),
        ("joy=lots", "not a number"),
        ("joy=0.1,joy=0.2", "given twice"),
    ],
)
def test_bad_specs_are_user_errors(spec: str, message: str) -> None:
    with pytest.raises(RoleplayError, match=message):
        parse_emotion_spec(spec)


def test_dict_validation() -> None:
    with pytest.raises(RoleplayError):
        emotion_vector({"joy": math.nan})
    with pytest.raises(RoleplayError):
        emotion_vector({"joy": True})


def test_metadata_round_trip() -> None:
    vector = np.linspace(0, 1, 8, dtype=np.float32)
    raw = np.linspace(-0.2, 0.6, 8, dtype=np.float32)  # raw similarities may be negative
    metadata = emotion_metadata(vector, raw)
    assert tuple(metadata) == (EMOTION_METADATA_KEY,)  # one Chroma entry, not nine
    assert emotion_from_metadata(metadata) == pytest.approx(vector, abs=1e-6)
    assert raw_emotion_from_metadata(metadata) == pytest.approx(raw, abs=1e-6)
    assert emotion_from_metadata({}).tolist() == [0.0] * 8
    assert raw_emotion_from_metadata({}) is None


def test_older_layouts_are_still_read() -> None:
    vector = np.linspace(0, 1, 8, dtype=np.float32)
    raw = json.dumps([0.1] * 8)
    legacy = {key: float(value) for key, value in zip(LEGACY_EMOTION_KEYS, vector, strict=True)}
    assert tuple(legacy) == tuple(f"emo_{name}" for name in EMOTIONS)
    assert emotion_from_metadata(legacy) == pytest.approx(vector)
    assert raw_emotion_from_metadata({**legacy, RAW_EMOTION_KEY: raw}) == pytest.approx([0.1] * 8)
    # The vector alone as a list, raw scores in their own entry.
    between = {EMOTION_METADATA_KEY: json.dumps(vector.tolist()), RAW_EMOTION_KEY: raw}
    assert emotion_from_metadata(between) == pytest.approx(vector)
    assert raw_emotion_from_metadata(between) == pytest.approx([0.1] * 8)


@pytest.mark.parametrize(
    "stored",
    [
        "not json",
        "[1, 2]",
        '{"joy": 1}',
        '[0.5, "x", null, true, 0, 0, 0, 2]',
        '{"vector": [0.5, "x", null, true, 0, 0, 0, 2], "raw": [1, 2]}',
        "7",
    ],
)
def test_unreadable_emotion_entries_read_as_valid_vectors(stored: str) -> None:
    vector = emotion_from_metadata({EMOTION_METADATA_KEY: stored})
    assert vector.shape == (8,)
    assert ((vector >= 0) & (vector <= 1)).all()
    assert raw_emotion_from_metadata({EMOTION_METADATA_KEY: stored}) is None
