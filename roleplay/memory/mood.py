"""The conversation's current mood: recent user turns' emotions, newer turns weighing more.

A mood that only looked at the last message would flip with every "ok" or "and then?"; a
short window with exponential decay keeps the feeling of the last few turns while still
following a change of mood within two or three messages.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from roleplay.memory.emotions import EMOTION_COUNT, zero_emotion


@dataclass(frozen=True)
class MoodSettings:
    """The mood's knobs; their one source is ``mood`` in ``data/memory_defaults.yaml``
    (``roleplay.memory.settings.default_settings()``), so there are no defaults here."""

    window: int  # recent non-blank user turns that make up the mood
    decay: float  # weight of each older turn relative to the next newer one

    def __post_init__(self) -> None:
        if self.window < 1:
            raise ValueError("the mood window must hold at least one turn")
        if not 0.0 < self.decay <= 1.0:
            raise ValueError("the mood decay must be in (0, 1]")


def turn_weights(count: int, settings: MoodSettings) -> np.ndarray:
    """Weights of the last ``min(count, window)`` turns, oldest first, summing to 1."""
    used = min(count, settings.window)
    ages = np.arange(used - 1, -1, -1, dtype=np.float64)
    weights = settings.decay**ages
    return weights / weights.sum() if used else weights


def blend_mood(turn_emotions: np.ndarray, settings: MoodSettings) -> np.ndarray:
    """The mood (8,) from the turns' emotion vectors ``(n, 8)``, oldest turn first."""
    if len(turn_emotions) == 0:
        return zero_emotion()
    if turn_emotions.ndim != 2 or turn_emotions.shape[1] != EMOTION_COUNT:
        raise ValueError(f"expected turn emotions of shape (n, 8), got {turn_emotions.shape}")
    recent = turn_emotions[-settings.window :]
    return np.asarray(turn_weights(len(recent), settings) @ recent, dtype=np.float32)


def recent_turns(turns: list[str], settings: MoodSettings) -> list[str]:
    """The non-blank turns that count for the mood, oldest first."""
    return [turn for turn in turns if turn.strip()][-settings.window :]
