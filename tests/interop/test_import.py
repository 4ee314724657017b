"""`import_card`: every supported format, the field mapping, tolerated oddities, bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from roleplay.cards.loader import load_card
from roleplay.errors import RoleplayError
from roleplay.interop.importer import import_card
from roleplay.interop.limits import MAX_FILE_BYTES
from roleplay.interop.mapping import PLACEHOLDER_DESCRIPTION
from roleplay.prompting.builder import render_system_prompt
from tests.interop.conftest import (
    DEFAULT_CARDS,
    b64_json,
    charx_with,
    png_with,
    v2_card,
    v3_card,
    write,
)


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "characters"


def _files(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


# --- SillyTavern's default cards ------------------------------------------------------


@pytest.mark.parametrize("path", DEFAULT_CARDS, ids=lambda path: path.stem)
def test_default_cards_import_to_valid_yaml(path: Path, out: Path) -> None:
    result = import_card(path, out)
    assert result.source_format == "ccv2"
    assert result.path.parent == out and result.path.suffix == ".yaml"
    assert load_card(result.path) == result.card
    assert result.traits_source == "unset"
    assert result.card.personality.big_five.as_dict() == dict.fromkeys(
        result.card.personality.big_five.as_dict(), 0.5
    )
    text = result.path.read_text(encoding="utf-8")
    assert "# TODO: the source format has no Big Five scores" in text
    assert result.card.extensions["roleplay"]["traits_source"] == "unset"


def test_seraphina_maps_fields_lorebook_and_metadata(out: Path) -> None:
    card = import_card(DEFAULT_CARDS[2], out).card
    assert card.name == "Seraphina"
    assert card.greeting is not None and card.greeting.startswith("*You wake with a start")
    assert "\r" not in card.description  # Windows line ends become \n
    assert card.metadata.creator == "OtisAlejandro"
    assert card.metadata.character_version == "1.0.0"
    assert card.extensions["world"] == "Eldoria"  # SillyTavern's extensions, as found
    assert card.lorebook is not None and card.lorebook.name == "Eldoria"
    assert [entry.keys[0] for entry in card.lorebook.entries] == [
        "eldoria",
        "shadowfang",
        "glade",
        "power",
    ]
    first = card.lorebook.entries[0]
    assert first.selective is False and first.insertion_order == 100
    assert first.extensions["roleplay"]["unmapped"] == {"id": 0, "position": "before_char"}


def test_flux_keeps_its_post_history_instructions_and_personality_text(out: Path) -> None:
    card = import_card(DEFAULT_CARDS[1], out).card
    assert card.personality.summary == "Cool, Impulsive, Wary, Quick-Witted, Curious, Smart"
    assert card.post_history_instructions is not None
    assert card.post_history_instructions.startswith("[System note:")


def test_metadata_never_reaches_the_prompt(out: Path) -> None:
    card = import_card(DEFAULT_CARDS[0], out).card  # Coding Sensei
    assert card.metadata.creator_notes is not None
    prompt = render_system_prompt(card.substituted("Ann"), "Ann")
    assert card.metadata.creator_notes.strip() not in prompt
    assert "RossAscends" not in prompt and "v1.010102" not in prompt


# --- formats --------------------------------------------------------------------------


FULL = {
    "personality": "Brave, blunt",
    "scenario": "A dock on Ceres.",
    "first_mes": "Need a ride?",
    "alternate_greetings": ["You again."],
    "mes_example": "<START>\n{{user}}: How fast?\n{{char}}: Faster than you'd like.\n"
    "<START>\n{{user}}: Safe?\n{{char}}: No.\nNot at all.",
    "system_prompt": "Write as {{char}}. {{original}}",
    "post_history_instructions": "Stay terse.",
    "tags": ["sci-fi", "pilot"],
    "creator": "someone",
    "creator_notes": "For testing.",
    "character_version": "2",
    "extensions": {"talkativeness": "0.5", "depth_prompt": {"depth": 4}},
}


def _check_full(card_path: Path) -> None:
    card = load_card(card_path)
    assert card.personality.summary == "Brave, blunt"
    assert card.scenario == "A dock on Ceres."
    assert card.greeting == "Need a ride?"
    assert card.alternate_greetings == ["You again."]
    assert [[(line.role, line.content) for line in d] for d in card.example_dialogues] == [
        [("user", "How fast?"), ("character", "Faster than you'd like.")],
        [("user", "Safe?"), ("character", "No.\nNot at all.")],
    ]
    assert card.system_prompt == "Write as {{char}}. {{original}}"
    assert card.post_history_instructions == "Stay terse."
    assert card.tags == ["sci-fi", "pilot"]
    assert card.metadata.creator_notes == "For testing."
    assert card.extensions["depth_prompt"] == {"depth": 4}


def test_v2_json(tmp_path: Path, out: Path) -> None:
    result = import_card(write(tmp_path / "kira.json", v2_card(**FULL)), out)
    assert result.source_format == "ccv2"
    _check_full(result.path)


def test_v3_json_keeps_v3_fields(tmp_path: Path, out: Path) -> None:
    card = v3_card(
        **FULL,
        nickname="K",
        group_only_greetings=["Hi all."],
        creation_date=1700000000,
        source=["https://example.org/kira"],
        assets=[{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
    )
    result = import_card(write(tmp_path / "kira.json", card), out)
    assert result.source_format == "ccv3"
    _check_full(result.path)
    loaded = load_card(result.path)
    assert loaded.metadata.creation_date == 1700000000
    assert loaded.metadata.source == ["https://example.org/kira"]
    unmapped = loaded.extensions["roleplay"]["unmapped"]
    assert unmapped["nickname"] == "K" and unmapped["group_only_greetings"] == ["Hi all."]


def test_v1_flat_json(tmp_path: Path, out: Path) -> None:
    v1 = {"name": "Kira", "description": "A pilot.", "first_mes": "Hi.", "mes_example": ""}
    result = import_card(write(tmp_path / "kira.json", v1), out)
    assert result.source_format == "ccv1" and result.card.greeting == "Hi."


def test_png_prefers_ccv3_over_chara(tmp_path: Path, out: Path) -> None:
    png = png_with({"chara": b64_json(v2_card(name="Old")), "ccv3": b64_json(v3_card(name="New"))})
    result = import_card(write(tmp_path / "card.png", png), out)
    assert result.card.name == "New" and result.source_format == "ccv3"


def test_png_with_only_chara(tmp_path: Path, out: Path) -> None:
    png = png_with({"chara": b64_json(v2_card(**FULL))})
    _check_full(import_card(write(tmp_path / "card.png", png), out).path)


def test_charx(tmp_path: Path, out: Path) -> None:
    archive = charx_with(
        {"card.json": json.dumps(v3_card(**FULL)).encode(), "assets/icon/main.png": b"\x89PNG"}
    )
    result = import_card(write(tmp_path / "kira.charx", archive), out)
    assert result.source_format == "ccv3"
    _check_full(result.path)


def test_textgen_yaml(tmp_path: Path, out: Path) -> None:
    text = (
        "name: Kira\n"
        "greeting: Need a ride?\n"
        "context: |\n"
        "  Kira is a courier pilot.\n"
        "  {{char}} flies fast.\n"
        "your_name: Ann\n"
    )
    result = import_card(write(tmp_path / "Kira.yaml", text), out)
    assert result.source_format == "textgen"
    card = result.card
    assert card.description == "Kira is a courier pilot.\n{{char}} flies fast.\n"
    assert card.greeting == "Need a ride?"
    assert card.extensions["roleplay"]["unmapped"] == {"your_name": "Ann"}


def test_textgen_yaml_with_pygmalion_aliases(tmp_path: Path, out: Path) -> None:
    text = "char_name: Kira\nchar_persona: A pilot.\nchar_greeting: Hi.\n"
    card = import_card(write(tmp_path / "kira.yml", text), out).card
    assert (card.name, card.description, card.greeting) == ("Kira", "A pilot.", "Hi.")


def test_pygmalion_json(tmp_path: Path, out: Path) -> None:
    pygmalion = {
        "char_name": "Kira",
        "char_persona": "A courier pilot.",
        "world_scenario": "Ceres docks.",
        "char_greeting": "Need a ride?",
        "example_dialogue": "You: How fast?\nKira: Faster than you'd like.",
    }
    result = import_card(write(tmp_path / "kira.json", pygmalion), out)
    card = result.card
    assert result.source_format == "pygmalion"
    assert card.description == "A courier pilot." and card.scenario == "Ceres docks."
    assert [(line.role, line.content) for line in card.example_dialogues[0]] == [
        ("user", "How fast?"),
        ("character", "Faster than you'd like."),
    ]


def test_our_own_card_is_not_imported(tmp_path: Path, out: Path, characters_dir: Path) -> None:
    with pytest.raises(RoleplayError, match="already a roleplay card"):
        import_card(characters_dir / "mira.yaml", out)


# --- tolerated oddities (documented in docs/authoring.md) --------------------------------


def test_null_character_book_and_string_greetings_are_tolerated(tmp_path: Path, out: Path) -> None:
    card = v2_card(character_book=None, alternate_greetings="Hello there.", tags="a, b")
    result = import_card(write(tmp_path / "odd.json", card), out)
    assert result.card.lorebook is None
    assert result.card.alternate_greetings == ["Hello there."]
    assert result.card.tags == ["a", "b"]
    assert any("alternate_greetings" in note for note in result.notes)


def test_blank_description_gets_a_placeholder_and_is_given_back(tmp_path: Path, out: Path) -> None:
    from roleplay.interop.exporter import v2_envelope

    result = import_card(write(tmp_path / "blank.json", v2_card(description="")), out)
    assert result.card.description == PLACEHOLDER_DESCRIPTION
    assert v2_envelope(result.card)["data"]["description"] == ""


def test_example_text_without_speakers_is_kept_for_export(tmp_path: Path, out: Path) -> None:
    from roleplay.interop.exporter import v2_envelope

    raw = "Narration first.\n<START>\n{{user}}: Hi\n{{char}}: Hey"
    card = import_card(write(tmp_path / "n.json", v2_card(mes_example=raw)), out).card
    assert [line.content for line in card.example_dialogues[0]] == ["Hi", "Hey"]
    assert v2_envelope(card)["data"]["mes_example"] == raw


# --- bad input: one clear error, exit 2 at the CLI, nothing written ------------------------


def _refused(path: Path, out: Path, match: str) -> None:
    with pytest.raises(RoleplayError, match=match):
        import_card(path, out)
    assert _files(out) == []


def test_png_without_a_card(tmp_path: Path, out: Path) -> None:
    _refused(write(tmp_path / "plain.png", png_with({})), out, "holds no character card")


def test_chunk_that_is_not_base64(tmp_path: Path, out: Path) -> None:
    path = write(tmp_path / "bad.png", png_with({"chara": b"not base64 at all!"}))
    _refused(path, out, "not base64")


def test_chunk_that_is_base64_but_not_json(tmp_path: Path, out: Path) -> None:
    import base64

    path = write(tmp_path / "bad.png", png_with({"chara": base64.b64encode(b"{nope")}))
    _refused(path, out, "not valid JSON")


def test_json_with_nan_is_refused(tmp_path: Path, out: Path) -> None:
    path = write(tmp_path / "nan.json", '{"spec": "chara_card_v2", "data": {"x": NaN}}')
    _refused(path, out, "NaN")


def test_unknown_json(tmp_path: Path, out: Path) -> None:
    _refused(write(tmp_path / "x.json", {"hello": 1}), out, "not a character card")
    _refused(write(tmp_path / "y.json", {"spec": "chara_card_v9"}), out, "unsupported card spec")
    _refused(write(tmp_path / "z.json", "[1, 2]"), out, "must be an object")


def test_card_without_name(tmp_path: Path, out: Path) -> None:
    _refused(write(tmp_path / "x.json", v2_card(name="  ")), out, "has no name")


def test_wrong_types_are_reported_with_the_field(tmp_path: Path, out: Path) -> None:
    book = {"entries": [{"keys": ["a"], "content": "x", "insertion_order": "first"}]}
    path = write(tmp_path / "x.json", v2_card(character_book=book))
    _refused(path, out, r"lorebook\.entries\[0\]\.insertion_order: must be a whole number")


def test_bad_regex_key_is_reported_with_its_place(tmp_path: Path, out: Path) -> None:
    book = {"entries": [{"keys": ["/(unclosed/i"], "content": "x"}]}
    path = write(tmp_path / "x.json", v2_card(character_book=book))
    _refused(path, out, r"lorebook\.entries\[0\]\.keys\[0\]: invalid regular expression")


def test_zip_bomb_is_refused_before_inflating(tmp_path: Path, out: Path) -> None:
    bomb = charx_with({"card.json": b"{}", "assets/zeros.bin": b"\0" * 20_000_000})
    assert len(bomb) < 100_000
    _refused(write(tmp_path / "bomb.charx", bomb), out, "zip bomb")


def test_charx_without_card_json(tmp_path: Path, out: Path) -> None:
    _refused(write(tmp_path / "x.charx", charx_with({"a.txt": b"hi"})), out, "no card.json")


def test_huge_file_is_refused_before_reading(tmp_path: Path, out: Path) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as handle:  # sparse: 100 MB on paper, nothing on disk
        handle.truncate(100 * 1024 * 1024)
    assert path.stat().st_size > MAX_FILE_BYTES
    _refused(path, out, "too large")


def test_missing_file_and_directory(tmp_path: Path, out: Path) -> None:
    _refused(tmp_path / "missing.png", out, "not found")
    _refused(tmp_path, out, "directory")


def test_card_too_big_for_a_yaml_card_writes_nothing(tmp_path: Path, out: Path) -> None:
    card = v2_card(extensions={"blob": ["x"] * 20_000})
    _refused(write(tmp_path / "big.json", card), out, "would not load")


# --- where the card goes ------------------------------------------------------------------


def test_file_name_is_a_safe_slug_never_the_raw_name(tmp_path: Path, out: Path) -> None:
    path = write(tmp_path / "x.json", v2_card(name="../../etc/passwd"))
    result = import_card(path, out)
    assert result.path.parent == out
    assert result.path.name.startswith("etc-passwd-")


def test_existing_card_is_not_overwritten_without_force(tmp_path: Path, out: Path) -> None:
    path = write(tmp_path / "x.json", v2_card())
    first = import_card(path, out)
    before = first.path.read_bytes()
    write(path, v2_card(description="Changed."))
    with pytest.raises(RoleplayError, match="already exists; use --force"):
        import_card(path, out)
    assert first.path.read_bytes() == before
    assert import_card(path, out, force=True).card.description == "Changed."
    assert _files(out) == [first.path.name]  # no temporary files left behind


def test_infer_traits_marks_the_card_as_estimated(out: Path) -> None:
    result = import_card(DEFAULT_CARDS[2], out, infer_traits=True)  # Seraphina
    assert result.traits_source == "estimated"
    scores = result.card.personality.big_five
    assert scores.agreeableness > 0.7  # caring, compassionate, gentle, warm, ...
    assert result.card.extensions["roleplay"]["traits_source"] == "estimated"
    assert "ESTIMATED" in result.path.read_text(encoding="utf-8")


def test_unreadable_output_folder_is_a_clear_error(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores permissions")
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(RoleplayError, match="cannot write"):
            import_card(DEFAULT_CARDS[0], locked)
    finally:
        locked.chmod(0o700)
