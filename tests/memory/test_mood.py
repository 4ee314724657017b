"""The mood: a decayed window over the recent user turns."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from ruamel.yaml import YAML

from roleplay.memory import settings as memory_settings
from roleplay.memory.data_files import DEFAULTS_PATH, read_yaml
from roleplay.memory.mood import MoodSettings, blend_mood, recent_turns, turn_weights
from roleplay.memory.service import CharacterMemory
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.builder import MemorySnippet
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine
from tests.memory.conftest import make_card

MOOD = MoodSettings(window=4, decay=0.5)


def test_weights_decay_towards_older_turns() -> None:
    weights = turn_weights(3, MOOD)
    assert weights == pytest.approx(np.array([0.25, 0.5, 1.0]) / 1.75)


def test_window_limits_the_turns() -> None:
    assert len(turn_weights(10, MOOD)) == 4
    three = MoodSettings(window=3, decay=0.5)
    assert recent_turns(["a", " ", "b", "c", "d", "e"], three) == ["c", "d", "e"]


def test_mood_follows_a_change_but_remembers_the_past() -> None:
    joy, fear = np.eye(8)[0], np.eye(8)[2]
    mood = blend_mood(np.stack([joy, joy, fear]), MOOD)
    assert mood[2] > mood[0] > 0  # the latest turn leads, the older ones still count
    assert mood.sum() == pytest.approx(1.0)


def test_no_turns_is_a_neutral_mood() -> None:
    assert blend_mood(np.zeros((0, 8)), MOOD).tolist() == [0.0] * 8


def test_settings_are_validated() -> None:
    with pytest.raises(ValueError):
        MoodSettings(window=0, decay=0.5)
    with pytest.raises(ValueError):
        MoodSettings(window=4, decay=0.0)
    with pytest.raises(ValueError):
        blend_mood(np.zeros((2, 3)), MOOD)


# The data file is the one source of the mood's knobs ---------------------------------------


class _KeywordScorer:
    """Joy for turns that say "happy", fear for "scared", nothing else."""

    def score(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.zeros((len(texts), 8), np.float32)
        for row, text in zip(rows, texts, strict=True):
            row[0] = 1.0 if "happy" in text else 0.0
            row[2] = 1.0 if "scared" in text else 0.0
        return rows


@pytest.fixture
def defaults_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of memory_defaults.yaml that ``default_settings()`` reads instead."""
    copy = tmp_path / "memory_defaults.yaml"
    copy.write_text(DEFAULTS_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setattr(memory_settings, "DEFAULTS_PATH", copy)
    memory_settings.default_settings.cache_clear()
    yield copy
    memory_settings.default_settings.cache_clear()


def _set_window(path: Path, window: int) -> None:
    yaml = YAML()  # round trip: the comments stay
    data = yaml.load(path.read_text(encoding="utf-8"))
    data["mood"]["window"] = window
    with path.open("w", encoding="utf-8") as handle:
        yaml.dump(data, handle)
    memory_settings.default_settings.cache_clear()


def test_the_bundled_mood_settings_are_the_data_file() -> None:
    memory_settings.default_settings.cache_clear()
    data = read_yaml(DEFAULTS_PATH)["mood"]
    mood = memory_settings.default_settings().mood
    assert (mood.window, mood.decay) == (data["window"], data["decay"])


class _MoodOnlyMemory:
    """A memory port that only reports a real ``CharacterMemory``'s mood."""

    def __init__(self, memory: CharacterMemory) -> None:
        self.memory = memory

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        return [], self.memory.current_mood(recent_user_turns)

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        return None


def _mood_after_a_chat(tmp_path: Path, characters_dir: Path, name: str) -> dict[str, float]:
    """The mood stored with the last reply of a chat: one happy turn, then five neutral."""
    turns = ["I'm so happy!", "Go on.", "And then?", "Really?", "Hm.", "What next?"]
    memory = CharacterMemory(make_card(name), scorer=_KeywordScorer())
    pipeline = ChatPipeline(
        ScriptedEngine(["Aye."] * len(turns)),
        SessionStore(tmp_path / f"{name}.sqlite3"),
        memory_factory=lambda card: _MoodOnlyMemory(memory),
    )
    conversation = pipeline.start(characters_dir / "mira.yaml")
    for turn in turns:
        conversation.send(turn).text()
    mood: dict[str, float] = conversation.messages()[-1].metadata["mood"]
    return mood


def test_the_window_in_the_data_file_is_honoured_through_a_chat(
    defaults_file: Path, tmp_path: Path, characters_dir: Path
) -> None:
    # The happy turn is the 6th newest: a window of 6 still sees it, one of 4 does not.
    _set_window(defaults_file, 6)
    assert memory_settings.default_settings().mood.window == 6
    assert _mood_after_a_chat(tmp_path, characters_dir, "wide")["joy"] > 0.0
    _set_window(defaults_file, 4)
    assert _mood_after_a_chat(tmp_path, characters_dir, "narrow")["joy"] == 0.0
