"""SillyTavern's per-entry lorebook settings in a card's character_book: read from the entry's
extensions into the card model's fields, written back where SillyTavern reads them, and a
card that went through SillyTavern comes back from import and export exactly as it was."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.interop.exporter import EXPORT_FORMATS, export_card
from roleplay.interop.importer import import_card
from tests.interop.conftest import v2_card, v3_card, write


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "characters"


def st_entry(uid: int, **extensions: Any) -> dict[str, Any]:
    """An entry as SillyTavern's character_book export writes it (its server's
    convertWorldInfoToCharacterBook), with ``extensions`` changed."""
    position = extensions.get("position", 1)
    return {
        "id": uid,
        "keys": ["rain"],
        "secondary_keys": [],
        "comment": f"entry {uid}",
        "content": "It rains.",
        "constant": False,
        "selective": True,
        "insertion_order": 100,
        "enabled": True,
        "position": "before_char" if position == 0 else "after_char",
        "use_regex": True,
        "extensions": {
            "position": 1,
            "exclude_recursion": False,
            "display_index": uid,
            "probability": 100,
            "useProbability": True,
            "depth": 4,
            "selectiveLogic": 0,
            "group": "",
            "group_override": False,
            "group_weight": 100,
            "prevent_recursion": False,
            "delay_until_recursion": False,
            "scan_depth": None,
            "match_whole_words": None,
            "use_group_scoring": False,
            "case_sensitive": None,
            "automation_id": "",
            "role": 0,
            "vectorized": False,
            "sticky": 0,
            "cooldown": 0,
            "delay": 0,
            **extensions,
        },
    }


SETTINGS = [
    st_entry(0, position=0, sticky=2),
    st_entry(1, group="weather, alarms", group_weight=300, probability=40, role=None),
    st_entry(2, position=4, depth=0, role=2, group_override=True, group="weather"),
    st_entry(3, position=2, scan_depth=6, exclude_recursion=True, prevent_recursion=True),
    st_entry(4, position=6, delay_until_recursion=2, useProbability=False, probability=10),
    st_entry(5, position=7, depth=None),
]


def imported(tmp_path: Path, out: Path, entries: list[dict[str, Any]], *, v3: bool = False) -> Card:
    make = v3_card if v3 else v2_card
    source = write(tmp_path / "card.json", make(character_book={"entries": entries}))
    return import_card(source, out, force=True).card


def test_settings_become_fields(tmp_path: Path, out: Path) -> None:
    book = imported(tmp_path, out, copy.deepcopy(SETTINGS)).lorebook
    assert book is not None
    before, weather, deep, note, example, outlet = book.entries
    assert (before.position, before.depth, before.role) == ("before_char", 4, "system")
    assert before.extensions["sticky"] == 2  # kept, not interpreted
    assert (weather.group, weather.group_weight, weather.probability) == (
        "weather, alarms",
        300,
        40,
    )
    assert weather.use_probability is True and weather.role is None
    assert (deep.position, deep.depth, deep.role, deep.group_override) == (
        "at_depth",
        0,
        "assistant",
        True,
    )
    assert (note.position, note.scan_depth) == ("at_depth", 6)
    assert note.exclude_recursion is True and note.prevent_recursion is True
    assert (example.position, example.delay_until_recursion) == ("after_char", 2)
    assert (example.use_probability, example.probability) == (False, 10)
    assert outlet.position is None and outlet.depth is None
    # What became a field left the extensions; the finer position codes, nulls, "" and what
    # is not interpreted stay there.
    assert "depth" not in before.extensions and "role" not in before.extensions
    assert "position" not in before.extensions and "probability" not in weather.extensions
    assert note.extensions["position"] == 2 and example.extensions["position"] == 6
    assert outlet.extensions["position"] == 7 and outlet.extensions["depth"] is None
    assert weather.extensions["role"] is None and before.extensions["group"] == ""
    assert before.extensions["scan_depth"] is None
    assert before.extensions["use_group_scoring"] is False


@pytest.mark.parametrize("export_format", EXPORT_FORMATS)
def test_a_sillytavern_book_comes_back_exactly(
    tmp_path: Path, out: Path, export_format: str
) -> None:
    v3 = export_format.startswith("ccv3")
    card = imported(tmp_path, out, copy.deepcopy(SETTINGS), v3=v3)
    exported = tmp_path / f"exported.{export_format.split('-')[1]}"
    exported.write_bytes(export_card(card, export_format))
    again = import_card(exported, tmp_path / export_format, force=True).card
    assert again == card
    if export_format.endswith("json"):
        entries = json.loads(exported.read_bytes())["data"]["character_book"]["entries"]
        assert entries == SETTINGS  # every key and value as SillyTavern wrote it


def test_the_spec_position_is_used_when_the_extensions_have_none(tmp_path: Path, out: Path) -> None:
    plain = st_entry(0)
    del plain["extensions"]["position"]
    plain["position"] = "before_char"
    nulled = st_entry(1, position=None)
    nulled["position"] = "after_char"
    card = imported(tmp_path, out, [plain, nulled])
    assert card.lorebook is not None
    first, second = card.lorebook.entries
    assert (first.position, second.position) == ("before_char", "after_char")
    assert first.extensions["roleplay"]["unmapped"]["position"] == "before_char"
    exported = json.loads(export_card(card, "ccv2-json"))["data"]["character_book"]["entries"]
    assert exported[0]["extensions"]["position"] == 0  # where SillyTavern looks first
    assert exported[0]["position"] == "before_char"


def test_a_yaml_card_exports_its_settings_where_sillytavern_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "card.yaml"
    path.write_text(
        """\
name: Kira
description: A courier pilot.
personality:
  big_five: {openness: 0.5, conscientiousness: 0.5, extraversion: 0.5, agreeableness: 0.5,
             neuroticism: 0.5}
lorebook:
  entries:
    - keys: [rain]
      content: It rains.
      position: at_depth
      depth: 2
      role: user
      probability: 30
      group: weather
      group_weight: 50
      group_override: true
      scan_depth: 3
      exclude_recursion: true
      prevent_recursion: false
      delay_until_recursion: true
""",
        encoding="utf-8",
    )
    card = load_card(path)
    exported = json.loads(export_card(card, "ccv3-json"))
    [entry] = exported["data"]["character_book"]["entries"]
    assert entry["extensions"] == {
        "selectiveLogic": 0,
        "position": 4,
        "depth": 2,
        "role": 1,
        "probability": 30,
        "group": "weather",
        "group_weight": 50,
        "group_override": True,
        "scan_depth": 3,
        "exclude_recursion": True,
        "prevent_recursion": False,
        "delay_until_recursion": True,
    }
    source = write(tmp_path / "exported.json", exported)
    assert import_card(source, tmp_path / "again", force=True).card.lorebook == card.lorebook


def test_a_changed_field_wins_over_the_kept_code(tmp_path: Path, out: Path) -> None:
    card = imported(tmp_path, out, [st_entry(0, position=2)])
    assert card.lorebook is not None
    [entry] = card.lorebook.entries
    moved = entry.model_copy(update={"position": "before_char"})
    book = card.lorebook.model_copy(update={"entries": [moved]})
    exported = json.loads(export_card(card.model_copy(update={"lorebook": book}), "ccv2-json"))
    assert exported["data"]["character_book"]["entries"][0]["extensions"]["position"] == 0


# Any value SillyTavern or a stranger's tool may have left under these keys.
ANY_VALUE = (
    st.none()
    | st.booleans()
    | st.integers(-5, 1200)
    | st.floats(allow_nan=False, allow_infinity=False, min_value=-5, max_value=1200)
    | st.sampled_from(["", " ", "weather", "a, b", "before_char"])
)
SETTING_KEYS = (
    "position",
    "depth",
    "role",
    "probability",
    "useProbability",
    "group",
    "group_override",
    "group_weight",
    "scan_depth",
    "exclude_recursion",
    "prevent_recursion",
    "delay_until_recursion",
    "sticky",
)
EXTENSIONS = st.dictionaries(st.sampled_from(SETTING_KEYS), ANY_VALUE, max_size=len(SETTING_KEYS))
ENTRY = st.fixed_dictionaries(
    {"keys": st.just(["rain"]), "content": st.just("It rains."), "extensions": EXTENSIONS},
    optional={"position": st.sampled_from(["before_char", "after_char", "nowhere"])},
)


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(entries=st.lists(ENTRY, min_size=1, max_size=3), v3=st.booleans())
def test_any_values_round_trip(tmp_path: Path, entries: list[dict[str, Any]], v3: bool) -> None:
    make = v3_card if v3 else v2_card
    source = write(tmp_path / "card.json", make(character_book={"entries": entries}))
    first = import_card(source, tmp_path / "first", force=True)
    assert load_card(first.path) == first.card
    exported = tmp_path / "exported.json"
    exported.write_bytes(export_card(first.card, "ccv3-json" if v3 else "ccv2-json"))
    second = import_card(exported, tmp_path / "second", force=True)
    assert second.card == first.card
