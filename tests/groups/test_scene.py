"""Group scenes: each character's own view, presence, memory privacy, swipes and resume."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from roleplay.cards.loader import load_card
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.groups.scene import GroupConversation, resume_group, start_group
from roleplay.pipeline import ChatPipeline, PersonaInfo
from roleplay.prompting.builder import MemorySnippet
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine


class SceneRecorder:
    """A character's memory that records what it was told to keep."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.scenes: list[tuple[list[tuple[str, str]], str]] = []

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        witnessed = [line for lines, _ in self.scenes for line in lines]
        texts = [f"{who} said {text}" for who, text in witnessed]
        return [MemorySnippet(text, 0.5, str(i)) for i, text in enumerate(texts)], {}

    def remember_exchange(self, *args: object) -> None:
        raise AssertionError("a scene memory is written with remember_scene")

    def remember_scene(
        self, lines: Sequence[tuple[str, str]], session_id: str, moment: str
    ) -> None:
        self.scenes = [(old, key) for old, key in self.scenes if key != moment]
        self.scenes.append((list(lines), moment))


@pytest.fixture
def cards(characters_dir: Path) -> list[Path]:
    return [characters_dir / f"{name}.yaml" for name in ("mira", "sable", "pip")]


def _scene(
    tmp_path: Path, cards: list[Path], *replies: str, order: str = "natural"
) -> tuple[GroupConversation, ScriptedEngine, dict[str, SceneRecorder]]:
    engine = ScriptedEngine(replies or ("Aye.",))
    memories: dict[str, SceneRecorder] = {}

    def memory(card: object) -> SceneRecorder:
        name = card.name  # type: ignore[attr-defined]
        return memories.setdefault(name, SceneRecorder(name))

    pipeline = ChatPipeline(engine, SessionStore(tmp_path / "s.sqlite3"), memory_factory=memory)
    scene = start_group(pipeline, cards, user_name="Lena", order=order, rng=random.Random(3))
    return scene, engine, memories


def _last_messages(engine: ScriptedEngine) -> list[ChatMessage]:
    return engine.messages[-1]


def test_each_character_sees_the_others_as_named_input(tmp_path: Path, cards: list[Path]) -> None:
    scene, engine, _ = _scene(tmp_path, cards, "Hold the line.", "Fine by me.")
    scene.send("Who goes first?")
    scene.reply("mira").text()
    scene.reply("sable").text()
    sable_view = _last_messages(engine)
    # Sable's own system block, with the others named and the anti-copying rule.
    assert "Sable" in sable_view[0].content
    assert "in a scene with Captain Mira Voss, Pip Marigold and Lena." in sable_view[0].content
    assert "never repeat" in sable_view[0].content
    # Mira's line reaches Sable as input, labelled, never as Sable's own (assistant) turn.
    assert sable_view[-1].role == "user"
    assert "Lena: Who goes first?" in sable_view[-1].content
    assert "Captain Mira Voss: Hold the line." in sable_view[-1].content
    assert all(m.role != "assistant" or "Hold the line." not in m.content for m in sable_view)
    stored = scene.messages()[-1]
    assert stored.metadata["speaker"] == "Sable" and stored.content == "Fine by me."


def test_own_lines_are_the_models_turns_and_labels_are_stripped(
    tmp_path: Path, cards: list[Path]
) -> None:
    scene, engine, _ = _scene(tmp_path, cards, "Captain Mira Voss: Steady.", "Go on.")
    scene.send("Status?")
    scene.reply("mira").text()
    assert scene.messages()[-1].content == "Steady."  # the label the model added is gone
    scene.send("And now?")
    scene.reply("mira").text()
    view = _last_messages(engine)
    assert ChatMessage("assistant", "Steady.") in view


def test_stop_strings_cover_every_other_speaker(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards)
    settings = scene.member("sable")._settings(None)
    assert "\nLena:" in settings.stop_strings
    assert "\nCaptain Mira Voss:" in settings.stop_strings
    assert "\nPip Marigold:" in settings.stop_strings
    assert "\nSable:" not in settings.stop_strings


def test_a_character_remembers_only_what_happened_while_present(
    tmp_path: Path, cards: list[Path]
) -> None:
    scene, engine, memories = _scene(tmp_path, cards, "Noted.", "Quiet now.", "Hi all.")
    scene.leave("pip")
    scene.send("The vault code is 4471.")
    scene.reply("mira").text()
    assert memories["Sable"].scenes and memories["Captain Mira Voss"].scenes
    assert "Pip Marigold" not in memories or not memories["Pip Marigold"].scenes
    scene.join(cards[2])
    scene.send("Welcome back, Pip.")
    scene.reply("pip").text()
    pip_view = "\n".join(m.content for m in _last_messages(engine))
    # Pip's prompt, memories included, never holds what was said while Pip was away.
    assert "4471" not in pip_view
    assert "Pip Marigold joins the scene." in pip_view
    assert "Welcome back, Pip." in pip_view
    witnessed = [text for lines, _ in memories["Pip Marigold"].scenes for _, text in lines]
    assert all("4471" not in text for text in witnessed)


def test_regenerate_is_a_swipe_by_the_same_speaker(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, memories = _scene(tmp_path, cards, "First try.", "Second try.")
    scene.send("Sable, your take?")
    scene.reply("sable").text()
    scene.regenerate().text()
    alternatives = scene.swipes()
    assert [m.content for m in alternatives] == ["First try.", "Second try."]
    assert {m.metadata["speaker"] for m in alternatives} == {"Sable"}
    # The regenerated line replaced the memory of the first one.
    assert len(memories["Sable"].scenes) == 1
    assert memories["Sable"].scenes[0][0][-1] == ("Sable", "Second try.")
    assert scene.swipe(1).content == "First try."
    assert scene.messages()[-1].content == "First try."


def test_natural_order_puts_the_named_character_first(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards)
    scene.send("Sable, what do you see?")
    assert scene.next_speakers()[0] == "Sable"


def test_round_robin_and_manual_orders(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards, "Line.", order="round-robin")
    scene.send("Go.")
    # The greeting was Mira's, so the turn passes to the next one in the scene.
    assert scene.next_speakers() == ["Sable"]
    scene.reply("sable").text()
    assert scene.next_speakers() == ["Pip Marigold"]
    scene.mute("pip")
    assert scene.next_speakers() == ["Captain Mira Voss"]
    scene.set_order("manual")
    assert scene.next_speakers() == []


def test_the_scene_reopens_with_its_state(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards, "Done.")
    scene.leave("sable")
    scene.mute("pip")
    scene.send("Mira?")
    scene.reply("mira").text()
    again = resume_group(scene.pipeline, scene.session.id)
    assert again.state.present == ["Captain Mira Voss", "Pip Marigold"]
    assert again.state.muted == ["Pip Marigold"]
    assert [m.content for m in again.messages()][-2:] == ["Mira?", "Done."]


def test_bad_names_and_duplicates_are_one_line_errors(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards)
    before = scene.store.count_messages(scene.session.id)
    with pytest.raises(RoleplayError, match="'Zed' is not in this scene"):
        scene.reply("Zed")
    with pytest.raises(RoleplayError, match="already in the scene"):
        scene.join(cards[0])
    with pytest.raises(RoleplayError, match="named twice"):
        start_group(scene.pipeline, [cards[0], cards[0]])
    with pytest.raises(RoleplayError, match="at least two"):
        start_group(scene.pipeline, [cards[0]])
    scene.leave("sable")
    with pytest.raises(RoleplayError, match="not in the scene now"):
        scene.reply("sable")
    assert scene.store.count_messages(scene.session.id) == before + 1  # only the leave event


def test_persona_fills_user_everywhere(tmp_path: Path, cards: list[Path]) -> None:
    engine = ScriptedEngine(("Welcome.",))
    pipeline = ChatPipeline(engine, SessionStore(tmp_path / "s.sqlite3"))
    persona = PersonaInfo("Kestrel", "A smuggler with a soft spot for strays.")
    scene = start_group(pipeline, cards[:2], persona=persona)
    assert scene.session.user_name == "Kestrel"
    scene.send("Evening.")
    scene.reply("sable").text()
    system = _last_messages(engine)[0].content
    assert "# About Kestrel" in system and "soft spot for strays" in system
    assert "Kestrel: Evening." in _last_messages(engine)[-1].content
    # After a switch, earlier lines keep the name they were said under in every prompt.
    scene.use_persona(PersonaInfo("Wren", "A deckhand."))
    scene.send("Morning.")
    scene.reply("sable").text()
    latest = "\n".join(m.content for m in _last_messages(engine)[1:])
    assert "Kestrel: Evening." in latest and "Wren: Morning." in latest
    mira = load_card(cards[0])
    assert mira.name in scene.names


def test_only_characters_present_learn_about_the_user(tmp_path: Path, cards: list[Path]) -> None:
    from roleplay.profile.factory import make_profile_factory

    engine = ScriptedEngine(("Noted.",))
    pipeline = ChatPipeline(
        engine,
        SessionStore(tmp_path / "s.sqlite3"),
        profile_factory=make_profile_factory(tmp_path / "profile.sqlite3"),
    )
    scene = start_group(pipeline, cards, user_name="Lena")
    scene.leave("pip")
    scene.send("I'm vegetarian.")
    scene.join(cards[2])
    scene.send("What's for dinner?")
    scene.reply("sable").text()
    assert "Lena is vegetarian" in " ".join(_last_messages(engine)[0].content.splitlines())
    scene.reply("pip").text()
    assert "vegetarian" not in _last_messages(engine)[0].content
