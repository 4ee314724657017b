"""The fields added for other tools' cards: lorebook, metadata, system prompt, summary; and
the YAML writer that imports and the wizard use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roleplay.cards.loader import check_card, load_card
from roleplay.cards.model import Card
from roleplay.cards.yaml_writer import card_to_yaml
from tests.cards.conftest import VALID_CARD, WriteCard


def _card(**overrides: Any) -> Card:
    base: dict[str, Any] = {
        "name": "Mira",
        "description": "A captain.",
        "personality": {
            "big_five": dict.fromkeys(
                ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"),
                0.5,
            )
        },
    }
    return Card.model_validate({**base, **overrides})


def test_new_fields_load_from_yaml(write_card: WriteCard) -> None:
    path = write_card(
        VALID_CARD.replace("    neuroticism: 0.5\n", "    neuroticism: 0.5\n  summary: Wary.\n")
        + "system_prompt: Narrate. {{original}}\n"
        + "post_history_instructions: Be brief.\n"
        + "metadata: {creator: Ann, creator_notes: Hi, character_version: '2', "
        + "creation_date: 1700000000, source: [here]}\n"
        + "lorebook:\n  scan_depth: 3\n  token_budget: 200\n  recursive_scanning: true\n"
        + "  entries:\n    - keys: [Kestrel, '/kest?rel/i']\n      secondary_keys: [ship]\n"
        + "      selective_logic: not_any\n      content: The ship.\n      priority: 3\n"
    )
    card = load_card(path)
    assert card.personality.summary == "Wary."
    assert card.system_prompt == "Narrate. {{original}}"
    assert card.metadata.creation_date == 1700000000 and card.metadata.source == ["here"]
    assert card.lorebook is not None and card.lorebook.scan_depth == 3
    entry = card.lorebook.entries[0]
    assert entry.selective_logic == "not_any" and entry.priority == 3
    assert entry.selective is True and entry.enabled is True and entry.insertion_order == 100


@pytest.mark.parametrize(
    ("addition", "expected"),
    [
        (
            "lorebook:\n  entries:\n    - keys: [a]\n      selective_logic: and_nay\n",
            "lorebook.entries[0].selective_logic: must be one of and_any, not_any, not_all, "
            "and_all, got 'and_nay' (did you mean 'and_any'?)",
        ),
        (
            "lorebook:\n  scan_depth: 0\n",
            "lorebook.scan_depth: must be a whole number of messages from 1 to 1000, got 0",
        ),
        (
            "lorebook:\n  entries:\n    - keys: ['']\n",
            "lorebook.entries[0].keys[0]: must be a non-empty keyword or a /regex/flags, got ''",
        ),
        (
            "lorebook:\n  entries:\n    - kyes: [a]\n",
            "lorebook.entries[0]: unknown field 'kyes' (did you mean 'keys'?)",
        ),
        (
            "metadata: {creation_date: yesterday}\n",
            "metadata.creation_date: must be a whole number (Unix seconds), got 'yesterday'",
        ),
    ],
)
def test_new_fields_have_located_readable_errors(
    write_card: WriteCard, addition: str, expected: str
) -> None:
    [problem] = check_card(write_card(VALID_CARD + addition)).errors
    assert problem.message == expected


def test_substitution_covers_new_prose_but_not_metadata_or_lore() -> None:
    card = _card(
        personality={**_card().personality.model_dump(), "summary": "{{char}} likes {{user}}"},
        system_prompt="Play {{char}}.",
        post_history_instructions="Address {{user}}.",
        metadata={"creator_notes": "{{char}} card"},
        lorebook={"entries": [{"keys": ["{{char}}"], "content": "{{char}}'s ship"}]},
    ).substituted("Ann")
    assert card.personality.summary == "Mira likes Ann"
    assert card.system_prompt == "Play Mira." and card.post_history_instructions == "Address Ann."
    assert card.metadata.creator_notes == "{{char}} card"
    assert card.lorebook is not None
    assert card.lorebook.entries[0].keys == ["{{char}}"]


# --- the YAML writer ------------------------------------------------------------------------


def _round_trip(card: Card, tmp_path: Path) -> Card:
    path = tmp_path / "written.yaml"
    path.write_text(card_to_yaml(card, header=["a header"], notes={("name",): "a note"}), "utf-8")
    return load_card(path)


def test_bundled_cards_are_written_back_exactly(characters_dir: Path, tmp_path: Path) -> None:
    for path in sorted(characters_dir.glob("*.yaml")):
        card = load_card(path)
        assert _round_trip(card, tmp_path) == card, path.name


@pytest.mark.parametrize(
    "text",
    [
        "line one\nline two\n",
        "trailing spaces  \nand a tab\there",
        "  leading spaces\nsecond",
        "windows\r\nline ends",
        "next line\x85and\u2028separators",
        "control \x1f and \x7f characters\nin a block",
        "a BOM \ufeff inside",
        "ends with blank lines\n\n\n",
        "{{ 7*7 }} and {% raw %}",
        "- looks: like yaml\n# and a comment",
    ],
)
def test_any_text_survives_the_writer(text: str, tmp_path: Path) -> None:
    card = _card(description=text, greeting=text, extensions={text: [text, {"k": text}]})
    assert _round_trip(card, tmp_path) == card


@pytest.mark.parametrize("line", ["?0", "? 0", ": 0", "??", "?-", "-0", "[x", "#x", "'x", "%x"])
def test_a_short_dialogue_line_that_starts_like_yaml_survives_the_writer(
    line: str, tmp_path: Path
) -> None:
    """Short example lines are written as flow mappings, where ruamel emits some of these
    unquoted and then cannot parse them (found by the SillyTavern round-trip property test:
    ``mes_example: "<START>{{user}}:?0"``)."""
    dialogue = [[{"role": "user", "content": line}, {"role": "character", "content": line}]]
    card = _card(example_dialogues=dialogue)
    assert _round_trip(card, tmp_path) == card


def test_writer_leaves_defaults_out_and_adds_comments() -> None:
    text = card_to_yaml(
        _card(lorebook={"entries": [{"keys": ["a"], "content": "b"}]}),
        header=["hello"],
        notes={("personality", "big_five"): "TODO: set me"},
    )
    assert text.startswith("# hello\nname: Mira\n")
    assert "  # TODO: set me\n  big_five: {openness: 0.5," in text
    assert "enabled" not in text and "metadata" not in text and "extensions" not in text
