from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.prompting.builder import (
    USER_SAID,
    MemorySnippet,
    PromptBuilder,
    render_system_prompt,
)
from tests.helpers.scripted_engine import ScriptedEngine


def _card(**overrides: object) -> Card:
    data: dict[str, object] = {
        "name": "Mira",
        "description": "A starship captain. {{char}} trusts {{user}}.",
        "personality": {
            "big_five": {
                "openness": 0.5,
                "conscientiousness": 0.9,
                "extraversion": 0.1,
                "agreeableness": 0.5,
                "neuroticism": 0.8,
            },
            "mbti": "ISTJ",
            "traits": ["gruff"],
        },
        "speaking_style": "Short sentences.",
        "scenario": "The bridge of the Kestrel.",
        "example_dialogues": [
            [
                {"role": "user", "content": "Status?"},
                {"role": "character", "content": "Holding."},
            ]
        ],
    }
    data.update(overrides)
    return Card.model_validate(data)


def test_system_prompt_turns_levels_into_behaviour() -> None:
    text = render_system_prompt(_card().substituted("Ann"), "Ann")
    assert "Mira trusts Ann." in text
    assert "disciplined, precise and dutiful" in text  # conscientiousness high
    assert "reserved and quiet" in text  # extraversion low
    assert "anxious and easily upset" in text  # neuroticism high
    assert "polite but will push back" in text  # agreeableness moderate
    assert "MBTI type ISTJ" in text
    assert "Ann: Status?" in text and "Mira: Holding." in text
    assert "The bridge of the Kestrel." in text


def test_card_text_is_never_compiled_as_a_template() -> None:
    card = _card(description="Says {{ 7*7 }} and {% for x in y %}loops{% endfor %} {# c #}")
    text = render_system_prompt(card.substituted("Ann"), "Ann")
    assert "{{ 7*7 }}" in text
    assert "{% for x in y %}loops{% endfor %}" in text
    assert "{# c #}" in text
    assert "49" not in text


def test_memories_appear_in_their_own_block() -> None:
    memories = [MemorySnippet("The reactor failed once.", 0.9, "m1")]
    text = render_system_prompt(_card(), "Ann", memories=memories)
    assert "# What Mira remembers\n- The reactor failed once." in text


def test_memories_go_after_the_card_by_default_and_first_when_asked() -> None:
    memories = [
        MemorySnippet("The reactor failed once.", 0.9, "m1"),
        MemorySnippet("I like tea.", 0.5, "m2", kind=USER_SAID),
    ]
    card = _card().substituted("Ann")
    after = render_system_prompt(card, "Ann", memories=memories)
    first = render_system_prompt(card, "Ann", memories=memories, memory_position="before_character")
    for text in (after, first):
        assert text.count("# What Mira remembers\n- The reactor failed once.") == 1
        assert text.count('# What Ann said before\n- "I like tea."') == 1
    # After the card: the memories follow its scenario; first: they precede its description.
    assert after.index("# Scenario") < after.index("# What Mira remembers")
    assert first.index("# What Mira remembers") < first.index("# Who Mira is")
    assert first.index("# What Ann said before") < first.index("# Who Mira is")
    assert first.startswith("You are Mira.")
    # Moving them changes nothing else: the same lines, in another order.
    assert sorted(after.splitlines()) == sorted(first.splitlines())
    # Without memories the position makes no difference at all.
    assert render_system_prompt(card, "Ann") == render_system_prompt(
        card, "Ann", memory_position="before_character"
    )


def test_the_builder_places_memories_where_it_is_told() -> None:
    memories = [MemorySnippet("The reactor failed once.", 0.9, "m1")]
    builder = PromptBuilder(
        ScriptedEngine(context_window=4000), reply_tokens=100, memory_position="before_character"
    )
    system = builder.build(_card(), "Ann", [], "hi", memories=memories).messages[0].content
    assert system.index("# What Mira remembers") < system.index("# Who Mira is")


def test_an_unknown_memory_position_is_a_clear_error() -> None:
    with pytest.raises(RoleplayError, match="memory position 'middle': use one of"):
        PromptBuilder(
            ScriptedEngine(context_window=4000),
            reply_tokens=100,
            memory_position="middle",  # type: ignore[arg-type]
        )


def _history(turns: int) -> list[ChatMessage]:
    history: list[ChatMessage] = []
    for index in range(turns):
        history.append(ChatMessage("user", f"question {index} " + "word " * 20))
        history.append(ChatMessage("assistant", f"answer {index} " + "word " * 20))
    return history


def test_history_that_fits_is_kept_whole() -> None:
    builder = PromptBuilder(ScriptedEngine(context_window=4000), reply_tokens=100)
    built = builder.build(_card(), "Ann", _history(3), "latest?")
    assert built.dropped_messages == 0
    assert built.messages[-1] == ChatMessage("user", "latest?")
    assert built.messages[0].role == "system"
    assert built.prompt_tokens <= built.token_budget


def test_oldest_turns_are_dropped_first_when_over_budget() -> None:
    engine = ScriptedEngine(context_window=400)
    builder = PromptBuilder(engine, reply_tokens=100, character_notes=False)
    history = _history(10)
    built = builder.build(_card(), "Ann", history, "latest?")
    assert built.dropped_messages > 0
    kept = built.messages[1:-1]
    assert kept == history[built.dropped_messages :]  # a suffix: the newest are kept
    assert built.messages[0].role == "system"
    assert built.messages[-1].content == "latest?"
    assert built.prompt_tokens <= 300


def test_weakest_memories_are_dropped_before_failing() -> None:
    engine = ScriptedEngine(context_window=330)
    builder = PromptBuilder(engine, reply_tokens=100)
    memories = [MemorySnippet("strong " + "detail " * 40, 0.9), MemorySnippet("weak " * 40, 0.1)]
    built = builder.build(_card(), "Ann", [], "hi", memories=memories)
    assert built.dropped_memories >= 1
    assert all(m.score >= 0.9 for m in built.memories)


def test_card_too_large_for_the_context_is_a_clear_error() -> None:
    builder = PromptBuilder(ScriptedEngine(context_window=120), reply_tokens=100)
    with pytest.raises(RoleplayError, match="shorten the card or raise --context-window"):
        builder.build(_card(), "Ann", [], "hi")


def test_bundled_cards_fit_a_small_context_with_room_for_history(characters_dir: Path) -> None:
    builder = PromptBuilder(ScriptedEngine(context_window=2048), reply_tokens=160)
    for path in sorted(characters_dir.glob("*.yaml")):
        card = load_card(path).substituted("Ann")
        built = builder.build(card, "Ann", [], "Hello.")
        assert built.prompt_tokens < 900, path.name


def test_turn_layout_keeps_the_earlier_conversation_an_unchanged_prefix() -> None:
    builder = PromptBuilder(ScriptedEngine(), reply_tokens=50, layout="turn")
    card = _card()
    history = [ChatMessage("user", "Status?"), ChatMessage("assistant", "Holding.")]
    first = builder.build(
        card, "Ann", history, "Any news?", memories=[MemorySnippet("Ann fixed the drive", 0.9)]
    )
    second = builder.build(
        card,
        "Ann",
        [*history, ChatMessage("user", "Any news?"), ChatMessage("assistant", "None.")],
        "And now?",
        memories=[MemorySnippet("The reactor hums", 0.8)],
    )
    # The per-turn memories sit just before the latest message...
    assert first.messages[-2] == ChatMessage(
        "system", "# What Mira remembers\n- Ann fixed the drive"
    )
    assert first.messages[-1] == ChatMessage("user", "Any news?")
    assert "remembers" not in first.messages[0].content
    # ...so everything before them is the same text from one turn to the next: a backend's
    # cached prefix covers the system block and the whole earlier history.
    # The character's note is per turn too: it goes right before the memories.
    assert first.messages[-3].content.startswith("[Stay Mira.")
    shared = first.text[: first.text.index("<system>\n[Stay Mira.")]
    assert second.text.startswith(shared)


def test_system_layout_puts_memories_in_the_system_block() -> None:
    builder = PromptBuilder(ScriptedEngine(), reply_tokens=50)
    prompt = builder.build(_card(), "Ann", [], "Hi", memories=[MemorySnippet("A memory", 0.9)])
    assert "A memory" in prompt.messages[0].content and len(prompt.messages) == 2


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(RoleplayError, match="use one of system, turn"):
        PromptBuilder(ScriptedEngine(), reply_tokens=50, layout="middle")  # type: ignore[arg-type]
