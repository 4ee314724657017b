"""End to end on the real embedded default model (SmolLM2-135M-Instruct from the wheel)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cards.loader import load_card
from roleplay.cli.main import app
from roleplay.engine.base import GenerationSettings
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.builder import PromptBuilder
from roleplay.sessions import SessionStore

pytestmark = pytest.mark.slow


def test_cli_once_json_with_the_default_model() -> None:
    args = ["chat", "-c", "mira", "--once", "Captain, the engines are failing.", "--seed", "1"]
    result = CliRunner().invoke(app, [*args, "--json", "--max-new-tokens", "24"])
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["reply"].strip()
    assert 0 < record["tokens"] <= 24
    assert record["seconds"] > record["ttft"] > 0


def test_seeded_replies_repeat_and_regenerate_differs(
    default_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    settings = GenerationSettings(max_new_tokens=20, temperature=0.8, seed=5)
    pipeline = ChatPipeline(default_engine, SessionStore(tmp_path / "s.db"), settings=settings)
    first = pipeline.start(characters_dir / "pip.yaml").send("What is the festival about?").text()
    conversation = pipeline.start(characters_dir / "pip.yaml")
    second = conversation.send("What is the festival about?").text()
    assert first == second and first.strip()
    regenerated = conversation.regenerate(seed=6).text()
    assert regenerated != second
    assert len(conversation.swipes()) == 2


def test_bundled_cards_leave_room_for_conversation(
    default_engine: TransformersEngine, characters_dir: Path
) -> None:
    builder = PromptBuilder(default_engine, reply_tokens=160)
    for path in sorted(characters_dir.glob("*.yaml")):
        card = load_card(path).substituted("User")
        built = builder.build(card, "User", [], "Hello.")
        # Half the default 2048-token window stays free for history and memories.
        assert built.prompt_tokens < 1024, (path.name, built.prompt_tokens)
