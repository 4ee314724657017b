"""The mood: a decayed window over the recent user turns."""

from __future__ import annotations

import numpy as np
import pytest

from roleplay.memory.mood import MoodSettings, blend_mood, recent_turns, turn_weights


def test_weights_decay_towards_older_turns() -> None:
    weights = turn_weights(3, MoodSettings(window=4, decay=0.5))
    assert weights == pytest.approx(np.array([0.25, 0.5, 1.0]) / 1.75)


def test_window_limits_the_turns() -> None:
    assert len(turn_weights(10, MoodSettings(window=4, decay=0.5))) == 4
    assert recent_turns(["a", " ", "b", "c", "d", "e"], MoodSettings(window=3)) == ["c", "d", "e"]


def test_mood_follows_a_change_but_remembers_the_past() -> None:
    joy, fear = np.eye(8)[0], np.eye(8)[2]
    settings = MoodSettings(window=4, decay=0.5)
    mood = blend_mood(np.stack([joy, joy, fear]), settings)
    assert mood[2] > mood[0] > 0  # the latest turn leads, the older ones still count
    assert mood.sum() == pytest.approx(1.0)


def test_no_turns_is_a_neutral_mood() -> None:
    assert blend_mood(np.zeros((0, 8)), MoodSettings()).tolist() == [0.0] * 8


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        MoodSettings(window=0)
    with pytest.raises(ValueError):
        MoodSettings(decay=0.0)
    with pytest.raises(ValueError):
        blend_mood(np.zeros((2, 3)), MoodSettings())
