"""Property: import -> export -> import gives back exactly the card the first import made.

Hypothesis builds SillyTavern cards with arbitrary text, extensions, unknown keys, lorebooks
and V3 fields; each is imported, exported in every format and imported again.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roleplay.cards.loader import load_card
from roleplay.interop.exporter import EXPORT_FORMATS, export_card
from roleplay.interop.importer import import_card
from tests.interop.conftest import b64_json, png_with

# Any text a JSON card can hold (lone surrogates cannot be UTF-8, so no card holds them).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
WORDS = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=12)
NAME = WORDS.filter(lambda text: text.strip())
JSON_SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    JSON_SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
EXTENSIONS = st.dictionaries(TEXT.filter(lambda key: key != "roleplay"), JSON, max_size=3)
SPEAKER = st.sampled_from(["{{user}}", "{{char}}", "<USER>", "<bot>"])
MES_EXAMPLE = st.one_of(
    TEXT,
    st.lists(
        st.lists(st.tuples(SPEAKER, TEXT), min_size=1, max_size=3).map(
            lambda lines: "<START>\n" + "\n".join(f"{who}: {text}" for who, text in lines)
        ),
        max_size=3,
    ).map("\n".join),
)
KEY = st.one_of(
    WORDS.filter(lambda key: not key.startswith("/")),
    st.sampled_from(["/kest?rel/i", r"/\bdragons?\b/", "/a|b/gm"]),
)
ENTRY_EXTENSIONS = st.fixed_dictionaries(
    {},
    optional={
        "selectiveLogic": st.integers(0, 3),
        "match_whole_words": st.none() | st.booleans(),
        "case_sensitive": st.none() | st.booleans(),
        "position": st.integers(0, 4),
        "probability": st.none() | st.integers(0, 100),
    },
).flatmap(lambda known: EXTENSIONS.map(lambda other: {**other, **known}))
ENTRY = st.fixed_dictionaries(
    {"keys": st.lists(KEY, max_size=3), "content": TEXT},
    optional={
        "secondary_keys": st.lists(KEY, max_size=2),
        "selective": st.booleans(),
        "constant": st.booleans(),
        "enabled": st.booleans(),
        "insertion_order": st.integers(-1000, 1000),
        "priority": st.integers(-10, 10),
        "case_sensitive": st.booleans(),
        "comment": TEXT,
        "id": st.integers(0, 99),
        "position": st.sampled_from(["before_char", "after_char"]),
        "use_regex": st.booleans(),
        "extensions": ENTRY_EXTENSIONS,
    },
)
BOOK = st.none() | st.fixed_dictionaries(
    {"entries": st.lists(ENTRY, max_size=3)},
    optional={
        "name": TEXT,
        "description": TEXT,
        "scan_depth": st.integers(1, 50),
        "token_budget": st.integers(1, 5000),
        "recursive_scanning": st.booleans(),
        "extensions": EXTENSIONS,
    },
)
DATA = st.fixed_dictionaries(
    {"name": NAME, "description": TEXT},
    optional={
        "personality": TEXT,
        "scenario": TEXT,
        "first_mes": TEXT,
        "mes_example": MES_EXAMPLE,
        "alternate_greetings": st.lists(TEXT, max_size=3) | TEXT,
        "system_prompt": TEXT,
        "post_history_instructions": TEXT,
        "tags": st.lists(TEXT, max_size=3),
        "creator": TEXT,
        "creator_notes": TEXT,
        "character_version": TEXT,
        "extensions": EXTENSIONS,
        "character_book": BOOK,
        # V3 fields and keys no spec knows
        "nickname": TEXT,
        "group_only_greetings": st.lists(TEXT, max_size=2),
        "creation_date": st.integers(0, 2**40),
        "source": st.lists(WORDS.filter(str.strip), max_size=2),
        "x_unknown": JSON,
    },
)
CARD = st.tuples(
    st.sampled_from(["chara_card_v2", "chara_card_v3"]),
    DATA,
    st.dictionaries(st.sampled_from(["avatar", "chat", "fav", "create_date"]), JSON, max_size=2),
).map(lambda parts: {**parts[2], "spec": parts[0], "spec_version": "x", "data": parts[1]})


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(card=CARD, as_png=st.booleans())
def test_import_export_import_is_exact(tmp_path: Path, card: dict[str, Any], as_png: bool) -> None:
    source = tmp_path / ("card.png" if as_png else "card.json")
    source.write_bytes(png_with({"chara": b64_json(card)}) if as_png else json.dumps(card).encode())
    first = import_card(source, tmp_path / "first", force=True)
    assert load_card(first.path) == first.card  # the YAML file says exactly that
    for export_format in EXPORT_FORMATS:
        exported = tmp_path / f"exported.{export_format.split('-')[1]}"
        exported.write_bytes(export_card(first.card, export_format))
        second = import_card(exported, tmp_path / export_format, force=True)
        assert second.card == first.card, export_format
        assert load_card(second.path) == first.card
