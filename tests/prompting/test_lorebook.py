"""World info: which entries fire, why, within which budget, and how they reach the prompt."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jinja2 import TemplateError
from typer.testing import CliRunner

from roleplay.cards.loader import check_card
from roleplay.cards.model import Card, Lorebook
from roleplay.engine.base import ChatMessage
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.builder import LoreSnippet, PromptBuilder, render_system_prompt
from roleplay.prompting.lorebook import (
    MAX_RECURSION_DEPTH,
    LorebookScanner,
    estimate_tokens,
    make_lore_factory,
)
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine

BIG_FIVE = dict.fromkeys(
    ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"), 0.5
)


def book(*entries: dict[str, Any], **options: Any) -> Lorebook:
    return Lorebook.model_validate({"entries": list(entries), **options})


def chat(*texts: str) -> list[ChatMessage]:
    """Alternating user/assistant messages; the last one is the new user message."""
    roles = ["user", "assistant"] * len(texts)
    return [ChatMessage(role, text) for role, text in zip(roles[-len(texts) :], texts, strict=True)]


def fired(lorebook: Lorebook, *texts: str) -> dict[str, str]:
    """Entry content -> reason, for the entries that fire."""
    return {s.content: s.reason for s in LorebookScanner(lorebook).scan(chat(*texts))}


KESTREL = {"keys": ["Kestrel"], "content": "The Kestrel is a survey frigate.", "comment": "ship"}


# --- keys ---------------------------------------------------------------------------------


def test_key_in_the_new_message_fires_with_its_reason() -> None:
    [snippet] = LorebookScanner(book(KESTREL)).scan(chat("Status of the Kestrel?"))
    assert snippet.content == "The Kestrel is a survey frigate."
    assert snippet.reason == "key 'Kestrel' in message -1"
    assert snippet.name == "'ship'"


def test_no_key_no_entry() -> None:
    assert fired(book(KESTREL), "How is the weather?") == {}


def test_only_the_last_scan_depth_messages_are_searched() -> None:
    lorebook = book(KESTREL)  # default scan depth 2
    assert fired(lorebook, "The Kestrel?", "Aye.", "And now?") == {}
    assert fired(lorebook, "Tell me.", "The Kestrel waits.", "And?") == {
        KESTREL["content"]: "key 'Kestrel' in message -2"
    }
    deeper = book(KESTREL, scan_depth=3)
    assert fired(deeper, "The Kestrel?", "Aye.", "And now?") == {
        KESTREL["content"]: "key 'Kestrel' in message -3"
    }


def test_case_is_ignored_unless_case_sensitive() -> None:
    assert fired(book(KESTREL), "the kestrel") != {}
    assert fired(book({**KESTREL, "case_sensitive": True}), "the kestrel") == {}
    assert fired(book({**KESTREL, "case_sensitive": True}), "the Kestrel") != {}


def test_whole_words_only_when_asked() -> None:
    cat = {"keys": ["cat"], "content": "Cats are sacred."}
    assert fired(book(cat), "concatenate these") != {}  # SillyTavern's default: substrings
    assert fired(book({**cat, "match_whole_words": True}), "concatenate these") == {}
    assert fired(book({**cat, "match_whole_words": True}), "a cat, asleep") != {}


def test_regex_keys() -> None:
    entry = {"keys": [r"/\bkest?rels?\b/i"], "content": "Birds and ships."}
    assert fired(book(entry), "Two KESTRELS overhead") == {
        "Birds and ships.": r"key '/\\bkest?rels?\\b/i' in message -1"
    }
    assert fired(book(entry), "kestrelling") == {}


def test_constant_and_disabled_entries() -> None:
    lorebook = book(
        {"content": "Always true.", "constant": True},
        {**KESTREL, "enabled": False},
    )
    assert fired(lorebook, "The Kestrel!") == {"Always true.": "constant"}


@pytest.mark.parametrize(
    ("logic", "message", "fires"),
    [
        ("and_any", "dragon in the cave", True),
        ("and_any", "dragon in the sky", False),
        ("and_all", "dragon in the cave, asleep", True),
        ("and_all", "dragon in the cave", False),
        ("not_any", "dragon in the sky", True),
        ("not_any", "dragon in the cave", False),
        ("not_all", "dragon in the cave", True),
        ("not_all", "dragon in the cave, asleep", False),
    ],
)
def test_selective_logic(logic: str, message: str, fires: bool) -> None:
    entry = {
        "keys": ["dragon"],
        "secondary_keys": ["cave", "asleep"],
        "selective_logic": logic,
        "content": "Dragons guard hoards.",
    }
    assert bool(fired(book(entry), message)) is fires


def test_secondary_keys_are_ignored_when_not_selective() -> None:
    entry = {"keys": ["dragon"], "secondary_keys": ["cave"], "selective": False, "content": "x"}
    assert fired(book(entry), "dragon in the sky") == {"x": "key 'dragon' in message -1"}


def test_secondary_reason_names_where_each_key_was_found() -> None:
    entry = {"keys": ["dragon"], "secondary_keys": ["cave"], "content": "x"}
    assert fired(book(entry), "a dragon", "in a cave") == {
        "x": "key 'dragon' in message -2 and secondary key 'cave' in message -1"
    }
    assert fired(book(entry, scan_depth=1), "a dragon", "in a cave") == {}


# --- budget and order -----------------------------------------------------------------------


def test_budget_keeps_the_most_important_and_reports_the_rest() -> None:
    lorebook = book(
        {"keys": ["ship"], "content": "low " * 30, "priority": 1, "comment": "low"},
        {"keys": ["ship"], "content": "high " * 30, "priority": 5, "comment": "high"},
        token_budget=50,
    )
    scanner = LorebookScanner(lorebook)
    [kept] = scanner.scan(chat("the ship"))
    assert kept.content.startswith("high")
    assert any("'low' left out" in note for note in scanner.notes)


def test_constant_entries_win_the_budget_and_order_follows_insertion_order() -> None:
    lorebook = book(
        {"keys": ["ship"], "content": "b " * 10, "insertion_order": 200},
        {"keys": ["ship"], "content": "a " * 10, "insertion_order": 50},
        {"content": "c " * 10, "constant": True, "insertion_order": 300},
        token_budget=30,
    )
    kept = LorebookScanner(lorebook).scan(chat("ship"))
    assert [snippet.content.split()[0] for snippet in kept] == ["b", "c"]
    assert sorted(snippet.rank for snippet in kept) == [0, 1]


def test_token_counter_is_pluggable() -> None:
    lorebook = book(KESTREL, token_budget=3)
    assert LorebookScanner(lorebook).scan(chat("Kestrel")) == []  # 6 words * 1.3 > 3
    counted = LorebookScanner(lorebook, count_tokens=lambda text: 1).scan(chat("Kestrel"))
    assert len(counted) == 1
    assert estimate_tokens("one two three") == 4


# --- recursion ------------------------------------------------------------------------------


CHAIN = [
    {"keys": ["alpha"], "content": "Alpha mentions beta.", "comment": "a"},
    {"keys": ["beta"], "content": "Beta mentions gamma.", "comment": "b"},
    {"keys": ["gamma"], "content": "Gamma mentions delta.", "comment": "c"},
    {"keys": ["delta"], "content": "Delta mentions epsilon.", "comment": "d"},
    {"keys": ["epsilon"], "content": "Epsilon ends it.", "comment": "e"},
]


def test_recursion_is_off_by_default() -> None:
    assert list(fired(book(*CHAIN), "alpha")) == ["Alpha mentions beta."]


def test_recursion_follows_fired_content_up_to_the_depth_limit() -> None:
    result = fired(book(*CHAIN, recursive_scanning=True), "alpha")
    assert result["Beta mentions gamma."] == "key 'beta' in lore entry 'a'"
    assert len(result) == 1 + MAX_RECURSION_DEPTH  # epsilon is one step too deep
    assert "Epsilon ends it." not in result


# --- regexes are data -----------------------------------------------------------------------


def test_pathological_regex_cannot_stall_a_turn() -> None:
    evil = {"keys": ["/(a|aa)+$/", "/(x+x+)+y/"], "content": "never"}
    scanner = LorebookScanner(book(evil, scan_depth=3))
    started = time.monotonic()
    assert scanner.scan(chat("a" * 5000 + "!", "x" * 5000, "a" * 5000 + "!")) == []
    assert time.monotonic() - started < 2.0
    assert any("timed out" in note or "budget" in note for note in scanner.notes)


def _card_yaml(keys: str) -> str:
    return f"""\
name: Test
description: A test.
personality:
  big_five: {{openness: 0.5, conscientiousness: 0.5, extraversion: 0.5,
             agreeableness: 0.5, neuroticism: 0.5}}
lorebook:
  entries:
    - keys: {keys}
      content: Lore.
"""


def test_bad_regex_is_a_located_card_error(tmp_path: Path) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(_card_yaml('[ok, "/(unclosed/i"]'), encoding="utf-8")
    [problem] = check_card(path).errors
    assert (problem.line, problem.column) == (8, 18)  # the quoted key
    assert problem.message.startswith(
        "lorebook.entries[0].keys[1]: invalid regular expression /(unclosed/: missing )"
    )


def test_overlong_regex_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(_card_yaml('["/' + "a" * 400 + '/"]'), encoding="utf-8")
    [problem] = check_card(path).errors
    assert "regular expression is too long (400 characters" in problem.message


def test_keys_that_only_look_like_paths_are_plain() -> None:
    entry = {"keys": ["/usr/bin"], "content": "Unix."}
    assert fired(book(entry), "see /usr/bin for it") == {"Unix.": "key '/usr/bin' in message -1"}


# --- into the prompt ------------------------------------------------------------------------


def _card(**overrides: Any) -> Card:
    data: dict[str, Any] = {
        "name": "Mira",
        "description": "A captain.",
        "personality": {"big_five": BIG_FIVE},
        **overrides,
    }
    return Card.model_validate(data)


def test_lore_goes_under_world_notes_with_placeholders_filled() -> None:
    text = render_system_prompt(
        _card(), "Ann", lore=[LoreSnippet("{{char}} once saved {{user}}.", "constant")]
    )
    assert "# World notes\n- Mira once saved Ann." in text


def test_builder_drops_the_least_important_lore_when_over_budget() -> None:
    lore = [
        LoreSnippet("keep " * 20, "constant", rank=0),
        LoreSnippet("drop " * 200, "key", rank=1),
    ]
    builder = PromptBuilder(ScriptedEngine(context_window=400), reply_tokens=100)
    built = builder.build(_card(), "Ann", [], "hi", lore=lore)
    assert built.dropped_lore == 1
    assert [snippet.rank for snippet in built.lore] == [0]
    assert "drop drop" not in built.text


def test_post_history_instructions_follow_the_user_message() -> None:
    builder = PromptBuilder(ScriptedEngine(context_window=4000), reply_tokens=100)
    card = _card(post_history_instructions="Answer in one line.")
    built = builder.build(card, "Ann", [ChatMessage("assistant", "Hello.")], "Hi!")
    # The character's note (depth 1) goes before the user's message; the instructions after.
    roles = ["system", "assistant", "system", "user", "system"]
    assert [m.role for m in built.messages] == roles
    assert built.messages[2].content.startswith("[Stay ")
    assert built.messages[-1].content == "Answer in one line."


class _StrictTemplateEngine(ScriptedEngine):
    """A chat template that, like some real ones, allows a system message only first."""

    def render_chat(self, messages: Any) -> str:
        if any(m.role == "system" for m in messages[1:]):
            raise TemplateError("System role only at the start")
        return super().render_chat(messages)


def test_post_history_instructions_fall_back_to_the_user_message() -> None:
    builder = PromptBuilder(_StrictTemplateEngine(context_window=4000), reply_tokens=100)
    card = _card(post_history_instructions="Answer in one line.")
    built = builder.build(card, "Ann", [], "Hi!")
    assert built.messages[-1] == ChatMessage("user", "Hi!\n\nAnswer in one line.")


def test_card_system_prompt_replaces_the_opening_and_can_include_it() -> None:
    plain = render_system_prompt(_card(system_prompt="Narrate as Mira."), "Ann")
    assert plain.startswith("Narrate as Mira.\n")
    assert "Never say you are an AI" not in plain
    both = render_system_prompt(_card(system_prompt="First. {{Original}} Last."), "Ann")
    assert both.startswith("First. You are Mira. Stay in character as Mira")
    assert "language model. Last." in both


def test_personality_summary_reaches_the_prompt_but_metadata_does_not() -> None:
    card = _card(
        personality={"big_five": BIG_FIVE, "summary": "Cool, wary"},
        metadata={"creator_notes": "SECRET NOTE", "creator": "someone"},
    )
    text = render_system_prompt(card, "Ann")
    assert "Cool, wary" in text
    assert "SECRET NOTE" not in text and "someone" not in text


# --- through the pipeline and the CLI -------------------------------------------------------


LORE_CARD = """\
name: Mira
description: Captain of the Kestrel.
personality:
  big_five:
    {openness: 0.5, conscientiousness: 0.9, extraversion: 0.3, agreeableness: 0.4, neuroticism: 0.2}
greeting: Report.
lorebook:
  entries:
    - keys: [reactor]
      comment: reactor
      content: "{{char}}'s reactor failed once, near Vesta."
    - keys: [mutiny]
      content: Nobody speaks of the mutiny.
"""


def test_pipeline_inserts_lore_that_fires(tmp_path: Path) -> None:
    card_path = tmp_path / "mira.yaml"
    card_path.write_text(LORE_CARD, encoding="utf-8")
    engine = ScriptedEngine(("Aye.",))
    pipeline = ChatPipeline(
        engine, SessionStore(tmp_path / "s.sqlite3"), lore_factory=make_lore_factory()
    )
    conversation = pipeline.start(card_path, user_name="Ann")
    prepared = conversation.prepare("How is the reactor?")
    assert [(s.name, s.reason) for s in prepared.prompt.lore] == [
        ("'reactor'", "key 'reactor' in message -1")
    ]
    assert "Mira's reactor failed once, near Vesta." in prepared.prompt.text
    assert "mutiny" not in prepared.prompt.text


def test_no_lorebook_no_scanner(characters_dir: Path) -> None:
    from roleplay.cards.loader import load_card

    assert make_lore_factory()(load_card(characters_dir / "mira.yaml")) is None


def test_prompt_command_shows_which_entries_fired_and_why(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    from roleplay.cli.main import app

    card_path = tmp_path / "mira.yaml"
    card_path.write_text(LORE_CARD, encoding="utf-8")
    args = ["prompt", "The reactor is hot.", "--character", str(card_path)]
    args += ["--model", str(tiny_model_dir), "--max-new-tokens", "8"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    shown = " ".join(result.stderr.split())  # the console wraps long lines
    assert "-- lore 'reactor' (key 'reactor' in message -1): Mira's reactor failed" in shown
    result = CliRunner().invoke(app, [*args, "--json"])
    record = json.loads(result.stdout)
    assert record["lore"] == [
        {
            "name": "'reactor'",
            "content": "Mira's reactor failed once, near Vesta.",
            "reason": "key 'reactor' in message -1",
        }
    ]
