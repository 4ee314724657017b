"""The profile in the real pipeline: a stated fact reaches the next turn's prompt."""

from __future__ import annotations

from pathlib import Path

from roleplay.engine.base import GenerationSettings
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.pipeline import ChatPipeline
from roleplay.profile.factory import make_profile_factory
from roleplay.profile.store import ProfileStore
from roleplay.sessions import SessionStore


def _pipeline(tiny: TransformersEngine, tmp_path: Path) -> ChatPipeline:
    # The tiny tokenizer needs more tokens than a real one for the same card.
    engine = TransformersEngine(tiny.loaded, context_window=4096)
    return ChatPipeline(
        engine,
        SessionStore(tmp_path / "s.sqlite3"),
        settings=GenerationSettings(max_new_tokens=2, seed=1),
        profile_factory=make_profile_factory(),
    )


def test_a_stated_fact_is_in_the_next_prompt(
    tiny_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    pipeline = _pipeline(tiny_engine, tmp_path)
    conversation = pipeline.start(characters_dir / "mira.yaml", user_name="Lena")
    conversation.send("I'm vegetarian, by the way.").text()
    prepared = conversation.prepare("What's for dinner?")
    assert any("Lena is vegetarian" in fact for fact in prepared.prompt.user_facts)
    assert "Lena is vegetarian (since " in prepared.prompt.text
    [fact] = ProfileStore().current("Lena", conversation.raw_card.name)
    assert fact.session_id == conversation.session.id
    [said] = [m for m in conversation.messages() if m.role == "user"]
    assert fact.message_id == said.id


def test_another_character_does_not_learn_it(
    tiny_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    pipeline = _pipeline(tiny_engine, tmp_path)
    mira = pipeline.start(characters_dir / "mira.yaml", user_name="Lena")
    assert mira.profile is not None
    mira.profile.observe_user_message("I'm vegetarian.", session_id=mira.session.id, message_id=1)
    pip = pipeline.start(characters_dir / "pip.yaml", user_name="Lena")
    assert "vegetarian" not in pip.prepare("What's for dinner?").prompt.text
    assert "Lena is vegetarian" in mira.prepare("What's for dinner?").prompt.text
