"""Memory and controller wired into the one pipeline (tiny random model, real Chroma store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.engine.base import GenerationSettings
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.errors import RoleplayError
from roleplay.features import (
    ChatMemory,
    FeatureOptions,
    control_factory,
    memory_factory,
    parse_steer_option,
)
from roleplay.pipeline import ChatPipeline
from roleplay.sessions import SessionStore


def _pipeline(tiny: TransformersEngine, tmp_path: Path, options: FeatureOptions) -> ChatPipeline:
    # The tiny tokenizer needs more tokens than a real one for the same card.
    engine = TransformersEngine(tiny.loaded, context_window=4096)
    return ChatPipeline(
        engine,
        SessionStore(tmp_path / "s.sqlite3"),
        settings=GenerationSettings(max_new_tokens=6, seed=1),
        memory_factory=memory_factory(options),
        control_factory=control_factory(engine.loaded, options),
    )


def test_turn_recalls_seed_memories_and_stores_the_exchange(
    tiny_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    options = FeatureOptions(steering=False)
    conversation = _pipeline(tiny_engine, tmp_path, options).start(characters_dir / "elias.yaml")
    prepared = conversation.prepare("Tell me about the archive fire.")
    assert prepared.prompt.memories, "seed memories should be recalled"
    assert set(prepared.mood) == {
        "joy",
        "trust",
        "fear",
        "surprise",
        "sadness",
        "disgust",
        "anger",
        "anticipation",
    }
    assert prepared.prompt.memories[0].text in prepared.prompt.text
    # What the user states is stored (the default policy); their request is not.
    stream = conversation.send("I saw the archive fire from the bridge. Tell me about it.")
    reply = stream.text()
    memory = conversation.memory
    assert memory is not None
    stored = [record.text for record in memory.memory.memories()]  # type: ignore[attr-defined]
    if reply.strip():
        assert "I saw the archive fire from the bridge." in stored
        assert not any("Tell me about it." in text for text in stored)
    assert len(stored) >= len(conversation.card.memories)


def test_controller_records_its_strengths_in_the_reply(
    tiny_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    options = FeatureOptions(memory=False, steer_overrides={"sentiment": 0.5})
    conversation = _pipeline(tiny_engine, tmp_path, options).start(characters_dir / "pip.yaml")
    stream = conversation.send("Hello!")
    stream.text()
    controls = stream.prepared.controls
    assert controls["enabled"] is True
    assert controls["steering"]["strengths"]["sentiment"] == pytest.approx(0.5)
    assert controls["steering"]["strengths"]["extraversion"] > 0  # Pip: extraversion 0.95
    assert not any(layer._forward_hooks for layer in tiny_engine.model.model.layers)


def test_no_steer_switches_the_controller_off(
    tiny_engine: TransformersEngine, tmp_path: Path, characters_dir: Path
) -> None:
    options = FeatureOptions(memory=False, steering=False)
    conversation = _pipeline(tiny_engine, tmp_path, options).start(characters_dir / "pip.yaml")
    assert conversation.prepare("Hi").controls["enabled"] is False


def test_steer_option_errors_are_one_line() -> None:
    assert parse_steer_option("extraversion=+1.0,sentiment=-0.5") == {
        "extraversion": 1.0,
        "sentiment": -0.5,
    }
    with pytest.raises(RoleplayError, match="did you mean 'sentiment'"):
        parse_steer_option("sentimnt=1")
    with pytest.raises(RoleplayError, match="must be a number"):
        parse_steer_option("sentiment=lots")


def test_toxicity_flag_names_its_scorer() -> None:
    from roleplay.features import ToxicityFlag

    flag = ToxicityFlag()
    calm = flag.rate("What a lovely cup of tea.")
    assert calm["flagged"] is False
    assert calm["scorer"] == flag.choice.scorer.name
    assert 0.0 <= calm["score"] <= 1.0


@pytest.mark.parametrize("pools", [False, True])
def test_memory_pools_keep_the_user_words_from_pushing_the_card_memories_out(
    tmp_path: Path, characters_dir: Path, pools: bool
) -> None:
    """With ``memory_pools`` chat recalls three of the character's own memories and, apart,
    two of what the user said; with one pool (the default), a chat's messages can take
    every place."""
    from roleplay.cards.loader import load_card

    build = memory_factory(
        FeatureOptions(steering=False, memory_folder=tmp_path, memory_pools=pools)
    )
    assert build is not None
    chat_memory = build(load_card(characters_dir / "elias.yaml"))
    assert isinstance(chat_memory, ChatMemory)
    question = "Describe yourself in one sentence."
    said = [
        "You describe yourself so well in one sentence.",
        "I describe myself in one sentence as a kind person.",
        "One sentence describing yourself is all I asked for.",
        "Your one-sentence description of yourself was lovely.",
    ]
    for turn, text in enumerate(said):
        chat_memory.remember_exchange(text, "Hm.", "s", turn)
    snippets, _ = chat_memory.recall_for_turn(question, [question])
    kinds = [snippet.kind for snippet in snippets]
    if not pools:
        assert len(snippets) == 3 and kinds.count("seed") < 3
    else:
        assert kinds == ["seed"] * 3 + ["user_said"] * 2
        assert {snippet.text for snippet in snippets[3:]} <= set(said)


@pytest.mark.parametrize("policy", ["exchange", "user", "statements"])
def test_a_remember_policy_override_decides_what_a_turn_stores(
    tmp_path: Path, characters_dir: Path, policy: str
) -> None:
    """FeatureOptions.remember_policy (the drift ablation's --remember) wins over
    memory_defaults.yaml for that memory only."""
    from roleplay.cards.loader import load_card
    from roleplay.memory.settings import default_settings

    build = memory_factory(
        FeatureOptions(steering=False, memory_folder=tmp_path, remember_policy=policy)  # type: ignore[arg-type]
    )
    assert build is not None
    chat_memory = build(load_card(characters_dir / "elias.yaml"))
    assert isinstance(chat_memory, ChatMemory)
    memory = chat_memory.memory
    assert memory.settings.remember.policy == policy
    assert default_settings().remember.policy == "statements"  # the defaults are untouched
    memory.remember_exchange("Tell me about the fire.", "It burned the east wing.", "s", 1)
    stored = [record.text for record in memory.memories()]
    assert any("burned the east wing" in text for text in stored) is (policy == "exchange")
    # A request is not a statement: the "statements" policy leaves it out.
    assert any("Tell me about the fire." in text for text in stored) is (policy != "statements")
