"""The prompt builder's placements for long chats: the character's note at depth, lore placed
before the character or at a depth, memory's bounded share, and what the user said."""

from __future__ import annotations

from typing import Any

import pytest
from jinja2 import TemplateError

from roleplay.cards.model import Card
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.prompting.builder import LoreSnippet, MemorySnippet, PromptBuilder, SceneContext
from roleplay.prompting.character_note import ALL_NOTE_PARTS, character_note
from tests.helpers.scripted_engine import ScriptedEngine

BIG_FIVE = {
    "openness": 0.5,
    "conscientiousness": 0.9,
    "extraversion": 0.1,
    "agreeableness": 0.2,
    "neuroticism": 0.8,
}


def _card(**overrides: object) -> Card:
    data: dict[str, object] = {
        "name": "Mira",
        "description": "A starship captain.",
        "personality": {"big_five": BIG_FIVE, "traits": ["gruff", "loyal"]},
        **overrides,
    }
    return Card.model_validate(data)


def _history(messages: int) -> list[ChatMessage]:
    roles = ("user", "assistant")
    return [ChatMessage(roles[i % 2], f"line {i}") for i in range(messages)]


def _builder(**options: Any) -> PromptBuilder:
    return PromptBuilder(ScriptedEngine(context_window=4000), reply_tokens=100, **options)


def test_the_note_restates_the_card_traits_right_before_the_newest_message() -> None:
    built = _builder().build(_card(), "Ann", _history(6), "Be nice to me.")
    contents = [message.content for message in built.messages]
    note = next(c for c in contents if c.startswith("[Stay Mira."))
    # Depth 1 (WRITTEN_NOTE_DEPTH): after the history, before the new message.
    assert contents.index(note) == len(contents) - 2 and contents[-1] == "Be nice to me."
    assert built.messages[contents.index(note)].role == "system"
    assert "Mira is blunt, sceptical and competitive" in note  # low agreeableness
    assert "gruff, loyal" in note
    # The closing sentence is not chat's: with the trait lines it made every character read
    # more agreeable after a long chat (BENCHMARKS.md, "Which part of the note ...").
    assert "not as an assistant" not in note and "Ann" not in note


def test_no_note_while_the_chat_is_shorter_than_its_depth_or_when_switched_off() -> None:
    assert not any(c.startswith("[Stay") for c in _contents(_builder(), []))
    assert any(c.startswith("[Stay") for c in _contents(_builder(), _history(1)))
    assert not any(c.startswith("[Stay") for c in _contents(_builder(note_depth=4), _history(3)))
    off = _builder(character_notes=False).build(_card(), "Ann", _history(8), "Hi")
    assert not any(m.content.startswith("[Stay") for m in off.messages)


def test_the_written_note_can_go_at_another_depth_but_a_card_note_keeps_its_own() -> None:
    built = _builder(note_depth=4).build(_card(), "Ann", _history(6), "Be nice to me.")
    contents = [message.content for message in built.messages]
    # Depth 4 (SillyTavern's default): before the last three history messages and the new one.
    note = next(c for c in contents if c.startswith("[Stay Mira."))
    assert contents.index(note) == len(contents) - 5
    card = _card(extensions={"depth_prompt": {"prompt": "{{char}} never smiles.", "depth": 2}})
    own = _builder(note_depth=0).build(card, "Ann", _history(4), "Smile?")
    assert own.messages[-3] == ChatMessage("system", "Mira never smiles.")
    with pytest.raises(RoleplayError, match="note depth -1: use 0 to 1000"):
        _builder(note_depth=-1)


def test_a_written_note_can_say_only_some_of_its_parts() -> None:
    """The drift diagnostic's note views (benchmarks/drift_sources.py) leave parts out; the
    whole note says them all, in order (chat's leaves out the closing sentence), and a card's
    own note is never cut."""
    whole = character_note(_card(), "Ann", parts=ALL_NOTE_PARTS).content
    assert whole.index("Stay Mira.") < whole.index("Mira is blunt") < whole.index("few words")
    assert whole.index("few words") < whole.index("Answer as Mira would")
    lines_only = character_note(_card(), "Ann", parts=frozenset({"lines"})).content
    assert lines_only.startswith("[Mira is open to new ideas")
    assert "Mira is blunt, sceptical and competitive; does not soften" in lines_only
    assert not any(part in lines_only for part in ("Stay", "few words", "Answer as"))
    voice = character_note(_card(), "Ann", parts=frozenset({"stay", "voice"})).content
    assert (
        voice == "[Stay Mira. Answer as Mira would, in Mira's own voice: not as an assistant, "
        "and not in Ann's style.]"
    )
    builder = _builder()
    builder.note_parts = frozenset({"words"})
    assert "[In a few words: gruff, loyal.]" in _contents(builder, _history(2))
    card = _card(extensions={"depth_prompt": {"prompt": "{{char}} never smiles.", "depth": 1}})
    assert character_note(card, "Ann", parts=frozenset({"stay"})).content == "Mira never smiles."
    with pytest.raises(RoleplayError, match="note parts tone: use some of stay, lines, words"):
        character_note(_card(), "Ann", parts=frozenset({"tone", "stay"}))
    with pytest.raises(RoleplayError, match=r"note parts \(none\)"):
        character_note(_card(), "Ann", parts=frozenset())


def _contents(builder: PromptBuilder, history: list[ChatMessage]) -> list[str]:
    return [m.content for m in builder.build(_card(), "Ann", history, "Hi").messages]


def test_a_card_depth_prompt_replaces_the_written_note() -> None:
    card = _card(
        extensions={"depth_prompt": {"prompt": "{{char}} never smiles at {{user}}.", "depth": 2}}
    )
    assert character_note(card, "Ann").content == "Mira never smiles at Ann."
    built = _builder().build(card, "Ann", _history(4), "Smile?")
    assert built.messages[-3] == ChatMessage("system", "Mira never smiles at Ann.")
    assert not any(m.content.startswith("[Stay") for m in built.messages)


def test_the_turn_layout_puts_the_note_just_before_the_turn_context() -> None:
    built = _builder(layout="turn").build(
        _card(), "Ann", _history(6), "Hi", memories=[MemorySnippet("The drive failed", 0.9)]
    )
    # The earlier conversation stays an unchanged prefix: note, context, new message last.
    assert built.messages[1:7] == _history(6)
    assert built.messages[7].content.startswith("[Stay Mira.")
    assert "The drive failed" in built.messages[8].content
    assert built.messages[9] == ChatMessage("user", "Hi")


class _SystemFirstOnly(ScriptedEngine):
    """A chat template that, like some real ones, allows a system message only first."""

    def render_chat(self, messages: Any) -> str:
        if any(m.role == "system" for m in messages[1:]):
            raise TemplateError("System role only at the start")
        return super().render_chat(messages)


def test_a_template_without_mid_chat_system_messages_gets_the_note_in_the_user_message() -> None:
    builder = PromptBuilder(_SystemFirstOnly(context_window=4000), reply_tokens=100)
    built = builder.build(_card(), "Ann", _history(6), "Hi")
    assert [m.role for m in built.messages[1:]] == [m.role for m in _history(6)] + ["user"]
    assert built.messages[-1].content.startswith("[Stay Mira.")
    assert built.messages[-1].content.endswith("\n\nHi")


def test_lore_goes_where_its_entry_says() -> None:
    lore = [
        LoreSnippet("The war ended a year ago.", name="war", position="before_char"),
        LoreSnippet("{{char}} owes the guild money.", name="debt"),
        LoreSnippet("It is raining.", name="rain", position="at_depth", depth=2, role="user"),
    ]
    built = _builder(character_notes=False).build(_card(), "Ann", _history(4), "Hi", lore=lore)
    system = built.messages[0].content
    assert system.index("The war ended") < system.index("# Who Mira is")
    assert system.index("# Who Mira is") < system.index("Mira owes the guild money.")
    assert "It is raining." not in system
    # Depth 2: before the last history message and the new message.
    assert built.messages[-3] == ChatMessage("user", "It is raining.")
    assert [snippet.name for snippet in built.lore] == ["war", "debt", "rain"]


def test_memories_take_at_most_their_share_of_the_budget() -> None:
    long = MemorySnippet("word " * 400, 0.9, "long")
    short = [MemorySnippet(f"short memory {i}", 0.5, f"s{i}") for i in range(3)]
    builder = PromptBuilder(ScriptedEngine(context_window=1100), reply_tokens=100)
    built = builder.build(_card(), "Ann", [], "Hi", memories=[long, *short])
    # 15 % of 1000 tokens: the long memory would fit the context but not memory's share.
    assert [memory.memory_id for memory in built.memories] == ["s0", "s1", "s2"]
    assert built.dropped_memories == 1
    everything = PromptBuilder(
        ScriptedEngine(context_window=1100), reply_tokens=100, memory_share=1.0
    ).build(_card(), "Ann", [], "Hi", memories=[long, *short])
    assert len(everything.memories) == 4


def test_what_the_user_said_is_shown_apart_from_the_character_memories() -> None:
    memories = [
        MemorySnippet("The reactor failed at Vega.", 0.9, "seed"),
        MemorySnippet("I moved to Oslo last spring.", 0.8, "said", kind="user_said"),
    ]
    system = _builder().build(_card(), "Ann", [], "Hi", memories=memories).messages[0].content
    assert "# What Mira remembers\n- The reactor failed at Vega." in system
    assert '# What Ann said before\n- "I moved to Oslo last spring."' in system
    turn = _builder(layout="turn").build(_card(), "Ann", [], "Hi", memories=memories)
    assert '# What Ann said before\n- "I moved to Oslo last spring."' in turn.messages[-2].content


def test_a_scene_topic_is_said_again_right_before_the_character_writes() -> None:
    scene = SceneContext(("Sable", "Pip"), topic="A stowaway")
    started = _builder(character_notes=False).build(
        _card(), "Sable and Pip", _history(2), "Pip: Who's there?", scene=scene
    )
    assert started.messages[-1] == ChatMessage(
        "system", "[The scene is about: A stowaway. Say something about it.]"
    )
    assert started.messages[-2] == ChatMessage("user", "Pip: Who's there?")
    opening = _builder().build(_card(), "Sable and Pip", [], "Narrator: A stowaway.", scene=scene)
    assert not any("Say something about it" in m.content for m in opening.messages)
    no_topic = _builder().build(_card(), "Ann", _history(2), "Hi", scene=SceneContext(("Sable",)))
    assert not any("The scene is about" in m.content for m in no_topic.messages[1:])


def test_the_note_goes_last_when_the_card_and_message_barely_fit() -> None:
    with_note = _builder().build(_card(), "Ann", _history(2), "Hi")
    without = _builder(character_notes=False).build(_card(), "Ann", [], "Hi")
    assert with_note.prompt_tokens > without.prompt_tokens
    # Room for the system block and the message, not for the note: the note goes (and the
    # history with it), instead of the turn failing.
    tight = PromptBuilder(
        ScriptedEngine(context_window=without.prompt_tokens + 100 + 1), reply_tokens=100
    )
    built = tight.build(_card(), "Ann", _history(2), "Hi")
    assert not any(m.content.startswith("[Stay") for m in built.messages)
    assert built.messages[-1] == ChatMessage("user", "Hi")
