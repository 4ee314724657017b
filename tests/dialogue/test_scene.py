"""Scenes with the scripted engine: turn order, what each character sees, the store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roleplay.dialogue.scene import (
    SceneRunner,
    SceneSpec,
    SpeakerStarted,
    TextPiece,
    UtteranceDone,
    clean_line,
)
from roleplay.dialogue.turns import Policy
from roleplay.errors import RoleplayError
from roleplay.paths import sessions_db_path
from roleplay.prompting.builder import MemorySnippet
from tests.helpers.scripted_engine import ScriptedEngine


def _spec(characters_dir: Path, *names: str, turns: int = 4, **kwargs: Any) -> SceneSpec:
    paths = tuple(characters_dir / f"{name}.yaml" for name in names)
    return SceneSpec("scene-00000", paths, "A storm is coming.", turns, **kwargs)


def test_characters_take_turns_and_see_each_others_lines(characters_dir: Path) -> None:
    engine = ScriptedEngine(["Hold the line.", "No.", "Ooh, a storm!", "Steady."])
    runner = SceneRunner(engine, _spec(characters_dir, "mira", "sable", "pip"))
    events = list(runner.run())
    done = [e.utterance for e in events if isinstance(e, UtteranceDone)]
    assert [u.speaker for u in done] == [
        "Captain Mira Voss",
        "Sable",
        "Pip Marigold",
        "Captain Mira Voss",
    ]
    assert [u.text for u in done] == ["Hold the line.", "No.", "Ooh, a storm!", "Steady."]
    assert [u.turn for u in done] == [0, 1, 2, 3]
    assert done[1].traits["agreeableness"] == 0.1  # Sable's card
    started = [e for e in events if isinstance(e, SpeakerStarted)]
    assert [e.speaker for e in started] == [u.speaker for u in done]
    assert "".join(e.text for e in events if isinstance(e, TextPiece)).startswith("Hold the")

    first, second, _, fourth = engine.prompts
    assert "Narrator: The scene: A storm is coming." in first
    # Sable sees the narrator and Mira, prefixed with their names, in one user turn.
    assert "Narrator: The scene: A storm is coming.\nCaptain Mira Voss: Hold the line." in second
    assert "You are Sable" in second
    # Mira's second turn: her own line is her assistant turn; the others' lines are new.
    assert "<assistant>\nHold the line.\n" in fourth
    assert "<user>\nSable: No.\nPip Marigold: Ooh, a storm!\n" in fourth
    assert "Captain Mira Voss: Hold the line." not in fourth.split("<assistant>\nHold the")[1]


def test_each_character_role_plays_with_the_others(characters_dir: Path) -> None:
    runner = SceneRunner(ScriptedEngine(["a"]), _spec(characters_dir, "mira", "sable", "pip"))
    assert runner.participants_label("Sable") == "Captain Mira Voss and Pip Marigold"
    assert "\nSable:" in runner.generation.stop_strings
    assert "\nNarrator:" in runner.generation.stop_strings


def test_scenes_leave_no_session_in_the_users_store(characters_dir: Path) -> None:
    list(SceneRunner(ScriptedEngine(["Hm."]), _spec(characters_dir, "mira", "sable")).run())
    assert not sessions_db_path().exists()


def test_seeds_advance_per_turn(characters_dir: Path) -> None:
    seeds: list[int | None] = []

    class SeedRecorder(ScriptedEngine):
        def stream(self, prompt: str, settings: Any, **kwargs: Any) -> Any:
            seeds.append(settings.seed)
            return super().stream(prompt, settings, **kwargs)

    spec = _spec(characters_dir, "mira", "sable", turns=3, seed=40)
    list(SceneRunner(SeedRecorder(["Hm."]), spec).run())
    assert seeds == [40, 41, 42]


class RememberNothing:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def recall_for_turn(self, query: str, recent: Any) -> tuple[list[MemorySnippet], dict]:
        self.queries.append(query)
        return [MemorySnippet("The harbour flooded twice last spring.", 0.8, "m")], {}

    def remember_exchange(self, *args: Any) -> None:
        return None


def test_each_character_uses_its_own_memory(characters_dir: Path) -> None:
    memories: dict[str, RememberNothing] = {}

    def factory(card: Any) -> RememberNothing:
        return memories.setdefault(card.name, RememberNothing())

    engine = ScriptedEngine(["Aye.", "No."])
    list(
        SceneRunner(
            engine, _spec(characters_dir, "mira", "sable", turns=2), memory_factory=factory
        ).run()
    )
    assert set(memories) == {"Captain Mira Voss", "Sable"}
    assert "Captain Mira Voss: Aye." in memories["Sable"].queries[0]
    assert "The harbour flooded twice" in engine.prompts[1]


def test_next_speaker_policy_follows_names(characters_dir: Path) -> None:
    engine = ScriptedEngine(["Pip, your turn.", "Me? Fine!", "Sable?", "Hm."])
    spec = _spec(characters_dir, "mira", "sable", "pip", policy=Policy.NEXT_SPEAKER)
    done = [
        e.utterance.speaker for e in SceneRunner(engine, spec).run() if isinstance(e, UtteranceDone)
    ]
    assert done == ["Captain Mira Voss", "Pip Marigold", "Sable", "Captain Mira Voss"]


def test_an_echoed_name_is_removed() -> None:
    assert clean_line("  Sable: Leave.  ", "Sable") == "Leave."
    assert clean_line("I said Sable: no.", "Sable") == "I said Sable: no."


@pytest.mark.parametrize(
    ("turns", "names", "message"),
    [(0, ("mira", "sable"), "--turns must be at least 1"), (2, ("mira",), "two characters")],
)
def test_bad_scenes_are_refused(
    characters_dir: Path, turns: int, names: tuple[str, ...], message: str
) -> None:
    with pytest.raises(RoleplayError, match=message):
        _spec(characters_dir, *names, turns=turns)
