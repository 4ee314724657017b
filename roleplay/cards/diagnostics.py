"""Turn pydantic validation errors into located, human-readable card problems.

pydantic reports *where* in the data an error is (``loc``, e.g. ``("personality",
"big_five", "openness")``) but knows nothing about the file. The ruamel round-trip tree
records each key's and value's line/column, so we walk it along ``loc``. Messages are
rewritten from a table of what each field expects, because pydantic's wording
("Input should be less than or equal to 1") names neither the field nor the whole range.
"""

from __future__ import annotations

import datetime
import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from roleplay.cards.model import (
    EMOTIONS,
    LORE_POSITIONS,
    LORE_ROLES,
    MBTI_TYPES,
    SELECTIVE_LOGICS,
    BigFive,
    Card,
    CardMetadata,
    DialogueLine,
    Lorebook,
    LoreEntry,
    Personality,
    SeedMemory,
)
from roleplay.errors import Problem

Loc = tuple[str | int, ...]
# A pattern matches a ``loc`` of the same length; "*" stands for any list index or
# mapping key, and "[key]" is pydantic's marker for an error in a mapping's key.
Pattern = tuple[str, ...]

ANY = "*"
KEY = "[key]"

_TEXT = "text"
_NON_EMPTY_TEXT = "non-empty text"
_UNIT = "a number between 0 and 1"
_SIGNED_UNIT = "a number between -1 and 1"
_BOOL = "true or false"
_INTEGER = "a whole number"
_LORE_KEY = "a non-empty keyword or a /regex/flags"
_MAPPING = "a mapping"

EXPECTED: dict[Pattern, str] = {
    ("name",): _NON_EMPTY_TEXT,
    ("description",): _NON_EMPTY_TEXT,
    ("personality",): "a mapping with big_five (required), mbti and traits",
    ("personality", "big_five"): (
        "a mapping with openness, conscientiousness, extraversion, agreeableness and neuroticism"
    ),
    ("personality", "big_five", ANY): _UNIT,
    ("personality", "mbti"): "one of the 16 MBTI types (e.g. ISTJ, ENFP)",
    ("personality", "traits"): "a list of adjectives",
    ("personality", "traits", ANY): _NON_EMPTY_TEXT,
    ("personality", "summary"): _TEXT,
    ("speaking_style",): _TEXT,
    ("scenario",): _TEXT,
    ("greeting",): _TEXT,
    ("alternate_greetings",): "a list of greetings",
    ("alternate_greetings", ANY): _NON_EMPTY_TEXT,
    ("example_dialogues",): "a list of dialogues, each a list of {role, content} lines",
    ("example_dialogues", ANY): "a list of {role, content} lines",
    ("example_dialogues", ANY, ANY): "a mapping with role and content",
    ("example_dialogues", ANY, ANY, "role"): "user or character",
    ("example_dialogues", ANY, ANY, "content"): _NON_EMPTY_TEXT,
    ("memories",): "a list of {text, emotion} entries",
    ("memories", ANY): "a mapping with text and an optional emotion",
    ("memories", ANY, "text"): _NON_EMPTY_TEXT,
    ("memories", ANY, "emotion"): "a mapping of emotion names to numbers between 0 and 1",
    ("memories", ANY, "emotion", ANY): _UNIT,
    ("memories", ANY, "emotion", ANY, KEY): "one of " + ", ".join(EMOTIONS),
    ("attributes",): "a mapping of attribute names to numbers between -1 and 1",
    ("attributes", ANY): _SIGNED_UNIT,
    ("attributes", ANY, KEY): (
        "a name made of letters, digits and _ (not starting with a digit, at most 64 long)"
    ),
    ("tags",): "a list of tags",
    ("tags", ANY): _NON_EMPTY_TEXT,
    ("system_prompt",): _TEXT,
    ("post_history_instructions",): _TEXT,
    ("lorebook",): "a mapping with entries (and optional scan_depth, token_budget, ...)",
    ("lorebook", "name"): _TEXT,
    ("lorebook", "description"): _TEXT,
    ("lorebook", "scan_depth"): "a whole number of messages from 1 to 1000",
    ("lorebook", "token_budget"): "a whole number of tokens from 1 to 1000000",
    ("lorebook", "recursive_scanning"): _BOOL,
    ("lorebook", "entries"): "a list of entries, each with keys and content",
    ("lorebook", "entries", ANY): "a mapping with keys, content and options",
    ("lorebook", "entries", ANY, "keys"): "a list of keywords",
    ("lorebook", "entries", ANY, "keys", ANY): _LORE_KEY,
    ("lorebook", "entries", ANY, "secondary_keys"): "a list of keywords",
    ("lorebook", "entries", ANY, "secondary_keys", ANY): _LORE_KEY,
    ("lorebook", "entries", ANY, "selective"): _BOOL,
    ("lorebook", "entries", ANY, "selective_logic"): "one of " + ", ".join(SELECTIVE_LOGICS),
    ("lorebook", "entries", ANY, "content"): _TEXT,
    ("lorebook", "entries", ANY, "comment"): _TEXT,
    ("lorebook", "entries", ANY, "constant"): _BOOL,
    ("lorebook", "entries", ANY, "enabled"): _BOOL,
    ("lorebook", "entries", ANY, "insertion_order"): _INTEGER,
    ("lorebook", "entries", ANY, "priority"): _INTEGER,
    ("lorebook", "entries", ANY, "case_sensitive"): _BOOL,
    ("lorebook", "entries", ANY, "match_whole_words"): _BOOL,
    ("lorebook", "entries", ANY, "position"): "one of " + ", ".join(LORE_POSITIONS),
    ("lorebook", "entries", ANY, "depth"): "a whole number of messages from 0 to 1000",
    ("lorebook", "entries", ANY, "role"): "one of " + ", ".join(LORE_ROLES),
    ("lorebook", "entries", ANY, "probability"): "a whole number of percent from 0 to 100",
    ("lorebook", "entries", ANY, "use_probability"): _BOOL,
    ("lorebook", "entries", ANY, "group"): _TEXT,
    ("lorebook", "entries", ANY, "group_override"): _BOOL,
    ("lorebook", "entries", ANY, "group_weight"): "a whole number from 0 to 1000000",
    ("lorebook", "entries", ANY, "scan_depth"): "a whole number of messages from 0 to 1000",
    ("lorebook", "entries", ANY, "exclude_recursion"): _BOOL,
    ("lorebook", "entries", ANY, "prevent_recursion"): _BOOL,
    ("lorebook", "entries", ANY, "delay_until_recursion"): (
        "true, false or a recursion level from 1 to 1000"
    ),
    ("lorebook", "entries", ANY, "extensions"): _MAPPING,
    ("lorebook", "extensions"): _MAPPING,
    ("metadata",): "a mapping with creator, creator_notes, character_version, ...",
    ("metadata", "creator"): _TEXT,
    ("metadata", "creator_notes"): _TEXT,
    ("metadata", "character_version"): _TEXT,
    ("metadata", "creation_date"): "a whole number (Unix seconds)",
    ("metadata", "modification_date"): "a whole number (Unix seconds)",
    ("metadata", "source"): "a list of links or names",
    ("metadata", "source", ANY): _NON_EMPTY_TEXT,
    ("extensions",): _MAPPING,
    ("extensions", ANY, KEY): _TEXT,
}

# Where a loc lands on a model: used to list the allowed keys for an unknown one.
MODELS: dict[Pattern, type[BaseModel]] = {
    (): Card,
    ("personality",): Personality,
    ("personality", "big_five"): BigFive,
    ("example_dialogues", ANY, ANY): DialogueLine,
    ("memories", ANY): SeedMemory,
    ("lorebook",): Lorebook,
    ("lorebook", "entries", ANY): LoreEntry,
    ("metadata",): CardMetadata,
}

# Closed sets of values, for "did you mean" hints on a near miss.
CHOICES: dict[Pattern, Sequence[str]] = {
    ("personality", "mbti"): sorted(MBTI_TYPES),
    ("example_dialogues", ANY, ANY, "role"): ("user", "character"),
    ("memories", ANY, "emotion", ANY, KEY): EMOTIONS,
    ("lorebook", "entries", ANY, "selective_logic"): SELECTIVE_LOGICS,
    ("lorebook", "entries", ANY, "position"): LORE_POSITIONS,
    ("lorebook", "entries", ANY, "role"): LORE_ROLES,
}

_TEXT_EXPECTED = frozenset({_TEXT, _NON_EMPTY_TEXT})
# Stricter than difflib's 0.6 default, which happily suggests 'character' for 'narator'.
_SUGGEST_CUTOFF = 0.75
_MAX_SHOWN = 40


def problems_from_validation(display: str, tree: Any, error: ValidationError) -> list[Problem]:
    """One located problem per pydantic error, in file order."""
    details = error.errors()
    # A misspelt required key shows up twice: as unknown ("descripton") and as missing
    # ("description"). The unknown-field line already suggests the fix, so drop the other.
    misspelt = {
        (*detail["loc"][:-1], suggestion)
        for detail in details
        if detail["type"] == "extra_forbidden"
        and (suggestion := _suggested_field(tuple(detail["loc"]))) is not None
    }
    problems = []
    for detail in details:
        loc: Loc = tuple(detail["loc"])
        if detail["type"] == "missing" and loc in misspelt:
            continue
        at_key = detail["type"] == "extra_forbidden" or (bool(loc) and loc[-1] == KEY)
        line, column = locate(tree, loc, at_key=at_key)
        problems.append(Problem(display, line, column, describe_error(detail)))
    return sorted(problems, key=lambda problem: (problem.line, problem.column))


def locate(tree: Any, loc: Loc, *, at_key: bool = False) -> tuple[int, int]:
    """1-based line/column of ``loc`` in the round-trip tree.

    Points at the value, or at the key when ``at_key`` (unknown keys, bad key names) or when
    the value is empty. A missing field points at the key of the mapping that lacks it.
    """
    position = anchor = _start(tree)
    node = tree
    parts = [part for part in loc if part != KEY]
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if isinstance(node, CommentedMap):
            key = _find_key(node, part)
            if key is None:
                return anchor
            value = node[key]
            if key not in (node.lc.data or {}):
                # A key merged in with `<<: *anchor` has no position in this mapping; the
                # mapping itself is the closest place we can point at.
                return _start(node)
            anchor = _one_based(node.lc.key(key))
            if (last and at_key) or value is None:
                position = anchor
            else:
                position = _one_based(node.lc.value(key))
            node = value
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            position = anchor = _one_based(node.lc.item(part))
            node = node[part]
        else:
            return anchor
    return position


def describe_error(detail: ErrorDetails) -> str:
    loc: Loc = tuple(detail["loc"])
    kind = detail["type"]
    value = detail.get("input")
    if kind == "missing":
        return _prefixed(
            loc[:-1], f"missing required field '{loc[-1]}' ({expected_for(loc) or 'required'})"
        )
    if kind == "card_value":  # our own validators already say exactly what is wrong
        return _prefixed(loc, detail["msg"])
    if kind == "extra_forbidden":
        return _prefixed(loc[:-1], f"unknown field {_show(loc[-1])}{_field_hint(loc)}")
    if loc and loc[-1] == KEY:
        key_hint = _did_you_mean(value, CHOICES.get(_pattern_for(loc, CHOICES), ()))
        key_expected = expected_for(loc) or "text"
        return _prefixed(loc[:-2], f"key {_show(value)} must be {key_expected}{key_hint}")
    expected = expected_for(loc)
    if expected is None:  # a field missing from EXPECTED: fall back to pydantic's text
        return _prefixed(loc, detail["msg"])
    hint = _did_you_mean(value, CHOICES.get(_pattern_for(loc, CHOICES), ()))
    if not hint:
        hint = _type_hint(expected, value)
    return _prefixed(loc, f"must be {expected}, got {_show(value)}{hint}")


def to_plain(value: Any) -> Any:
    """ruamel's round-trip types (CommentedMap, ScalarFloat, ...) as plain Python values."""
    if isinstance(value, Mapping):
        return {to_plain(key): to_plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_plain(item) for item in value]
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value  # None, dates


def dotted(loc: Loc) -> str:
    """``("memories", 2, "text")`` -> ``memories[2].text``."""
    text = ""
    for part in loc:
        if part == KEY:
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + _shorten(str(part))
    return text


def _start(tree: Any) -> tuple[int, int]:
    lc = getattr(tree, "lc", None)
    if lc is None or lc.line is None:
        return (1, 1)
    return (lc.line + 1, lc.col + 1)


def _one_based(position: Sequence[int]) -> tuple[int, int]:
    return (position[0] + 1, position[1] + 1)


def _find_key(node: CommentedMap, part: str | int) -> Any:
    if part in node:
        return part
    wanted = str(part)
    for key in node:
        if str(key) == wanted:
            return key
    return None


def _matches(pattern: Pattern, loc: Loc) -> bool:
    return len(pattern) == len(loc) and all(
        expected in (ANY, actual) for expected, actual in zip(pattern, loc, strict=True)
    )


def _pattern_for(loc: Loc, table: Mapping[Pattern, object]) -> Pattern:
    for pattern in table:
        if _matches(pattern, loc):
            return pattern
    return ("<none>",)


def expected_for(loc: Loc) -> str | None:
    """What the field at ``loc`` must hold, in words (``None`` if the table lacks it)."""
    return EXPECTED.get(_pattern_for(loc, EXPECTED))


def _allowed_fields(parent: Loc) -> list[str]:
    model = MODELS.get(_pattern_for(parent, MODELS))
    return list(model.model_fields) if model is not None else []


def _suggested_field(loc: Loc) -> str | None:
    """The known field an unknown key at ``loc`` was probably meant to be."""
    return _suggest(loc[-1], _allowed_fields(loc[:-1]))


def _field_hint(loc: Loc) -> str:
    allowed = _allowed_fields(loc[:-1])
    if not allowed:
        return ""
    return _did_you_mean(loc[-1], allowed) or f" (allowed: {', '.join(allowed)})"


def _suggest(value: object, choices: Sequence[str]) -> str | None:
    if not isinstance(value, str) or not choices:
        return None
    folded = {choice.casefold(): choice for choice in choices}
    close = difflib.get_close_matches(value.casefold(), list(folded), n=1, cutoff=_SUGGEST_CUTOFF)
    return folded[close[0]] if close else None


def _did_you_mean(value: object, choices: Sequence[str]) -> str:
    suggestion = _suggest(value, choices)
    return f" (did you mean '{suggestion}'?)" if suggestion is not None else ""


def _type_hint(expected: str, value: object) -> str:
    if expected in _TEXT_EXPECTED and isinstance(value, (bool, int, float, datetime.date)):
        return "; put it in quotes to use it as text"
    if expected.startswith("a number") and isinstance(value, str) and _is_number(value):
        return "; remove the quotes to make it a number"
    return ""


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _prefixed(loc: Loc, message: str) -> str:
    where = dotted(loc)
    return f"{where}: {message}" if where else message


def _show(value: object) -> str:
    """A short rendering of a YAML value as the user wrote it."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return repr(_shorten(value))
    if isinstance(value, datetime.datetime):
        return f"the timestamp {value.isoformat()}"
    if isinstance(value, datetime.date):
        return f"the date {value.isoformat()}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    return type(value).__name__


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 1] + "…"
