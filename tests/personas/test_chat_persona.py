"""A persona in a chat: its name fills {{user}}, the model is told its description, the
session remembers it, and a chat can switch persona."""

from __future__ import annotations

import json
from pathlib import Path

from roleplay.personas.store import add_persona
from roleplay.pipeline import ChatPipeline, PersonaInfo, speaker_name
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine
from tests.personas.conftest import assert_one_line_error, invoke


def test_persona_fills_user_and_describes_them(tmp_path: Path, characters_dir: Path) -> None:
    engine = ScriptedEngine(("Aye.",))
    pipeline = ChatPipeline(engine, SessionStore(tmp_path / "s.sqlite3"))
    persona = PersonaInfo("Kestrel", "A smuggler who owes {{char}} money.")
    conversation = pipeline.start(characters_dir / "mira.yaml", persona=persona)
    assert conversation.session.user_name == "Kestrel"
    assert conversation.session.metadata["persona"]["description"].startswith("A smuggler")
    conversation.send("Evening, captain.").text()
    system = engine.messages[-1][0].content
    assert "# About Kestrel" in system
    assert "A smuggler who owes Captain Mira Voss money." in system  # placeholders filled
    assert "role-play with Kestrel" in system

    conversation.use_persona("Wren", "A deckhand on her first voyage.")
    conversation.send("Hello?").text()
    system = engine.messages[-1][0].content
    assert "# About Wren" in system and "first voyage" in system and "Kestrel" not in system
    resumed = pipeline.resume(conversation.session.id)
    assert resumed.session.user_name == "Wren" and "first voyage" in resumed.user_description
    # Each user line keeps the name it was sent under.
    users = [m for m in resumed.messages() if m.role == "user"]
    assert [speaker_name(m, "Wren") for m in users] == ["Kestrel", "Wren"]


def test_chat_uses_the_active_persona_unless_told_otherwise(tiny_model_dir: Path) -> None:
    add_persona("Alex", "A night-owl student.", use=True)
    add_persona("Bea", "A retired pilot.")
    base = ["chat", "--model", str(tiny_model_dir), "--no-memory", "--no-steer"]
    runs = {
        "active": [],
        "named": ["--persona", "bea"],
        "plain": ["--user", "Sam"],
    }
    names = {}
    for label, extra in runs.items():
        result = invoke(*base, *extra, "--max-new-tokens", "2", "--once", "Hi", "--json")
        assert result.exit_code == 0, result.output
        session = json.loads(result.stdout)["session"]
        shown = invoke("sessions", "list", "--json")
        listed = {s["id"]: s for s in json.loads(shown.stdout)}
        names[label] = (listed[session]["user"], listed[session]["persona"])
    assert names == {
        "active": ("Alex", "Alex"),
        "named": ("Bea", "Bea"),
        "plain": ("Sam", None),
    }
    assert_one_line_error(invoke(*base, "--persona", "Nobody", "--once", "Hi"), "Nobody")
