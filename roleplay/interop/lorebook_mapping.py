"""``character_book`` (Character Card V2/V3) <-> our ``lorebook``.

Fields the spec has map one to one. SillyTavern keeps its other entry settings in the
entry's ``extensions`` (``selectiveLogic`` as 0-3, ``match_whole_words``, ``case_sensitive``,
``position`` as a code, ``depth``, ``role`` as a code, ``probability``, ``useProbability``,
``group``, ``group_override``, ``group_weight``, ``scan_depth``, ``exclude_recursion``,
``prevent_recursion``, ``delay_until_recursion``); a valid value becomes our typed field and
is written back there on export. Where our field is coarser than SillyTavern's (position 2,
3, 5 and 6, see ``roleplay.cards.tavern_lore``) the code stays in the extensions and goes
back as it was while the field still means it. Null (SillyTavern's "use the global
setting"), an empty group and values of the wrong type stay in the extensions, not
interpreted, like every setting not listed (``sticky``, ``cooldown``, ``delay``,
``use_group_scoring``, ``automation_id``, ...). The spec's own ``position``
(``before_char``/``after_char``) is used when the extensions have no position, and kept with
``id``, ``use_regex`` and unknown keys in ``extensions.roleplay.unmapped`` of the book or
entry, given back on export.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.cards.model import MAX_LORE_DEPTH
from roleplay.cards.tavern_lore import (
    POSITION_CODES,
    POSITION_NAMES,
    ROLE_CODES,
    ROLE_NAMES,
    position_code,
    whole_number,
)
from roleplay.errors import RoleplayError
from roleplay.interop.bookkeeping import UNMAPPED, join_namespace, split_namespace

# SillyTavern's world_info_logic enum.
LOGIC_CODES = {"and_any": 0, "not_all": 1, "not_any": 2, "and_all": 3}
LOGIC_NAMES = {code: name for name, code in LOGIC_CODES.items()}

_BOOK_FIELDS = ("name", "description", "scan_depth", "token_budget", "recursive_scanning")
_ENTRY_FIELDS = (
    "keys",
    "secondary_keys",
    "selective",
    "content",
    "comment",
    "constant",
    "enabled",
    "insertion_order",
    "priority",
    "case_sensitive",
    "extensions",
)
# Values the exporter writes for fields the V3 spec requires; at these values they carry no
# information, so an import does not keep them (and a round trip stays exact).
_DROPPED_DEFAULTS: dict[str, Any] = {"use_regex": False}
_MISSING = object()
# Our field -> SillyTavern's key in the entry's extensions (as its character_book export
# writes them), for the settings that are true/false ...
_EXTENSION_FLAGS = {
    "use_probability": "useProbability",
    "group_override": "group_override",
    "exclude_recursion": "exclude_recursion",
    "prevent_recursion": "prevent_recursion",
}
# ... and whole numbers within a range.
_EXTENSION_NUMBERS = {
    "depth": ("depth", 0, MAX_LORE_DEPTH),
    "probability": ("probability", 0, 100),
    "group_weight": ("group_weight", 0, 1_000_000),
    "scan_depth": ("scan_depth", 0, MAX_LORE_DEPTH),
}


def book_from_tavern(book: Any, where: str) -> dict[str, Any] | None:
    """Our ``lorebook`` mapping, or None for ``character_book: null`` (seen in the wild)."""
    if book is None:
        return None
    if not isinstance(book, Mapping):
        raise RoleplayError(f"{where}: character_book must be an object")
    others, ours = split_namespace(book.get("extensions"), f"{where}.extensions")
    result: dict[str, Any] = {}
    for field in _BOOK_FIELDS:
        value = book.get(field)
        if value is not None:
            result[field] = _integral(value)
    entries = book.get("entries") or []
    if not isinstance(entries, list):
        raise RoleplayError(f"{where}: character_book.entries must be a list")
    result["entries"] = [
        entry_from_tavern(entry, f"{where}.entries[{index}]") for index, entry in enumerate(entries)
    ]
    unmapped = {
        key: value
        for key, value in book.items()
        if key not in (*_BOOK_FIELDS, "entries", "extensions")
    }
    ours.pop(UNMAPPED, None)
    if unmapped:
        ours[UNMAPPED] = unmapped
    result["extensions"] = join_namespace(others, ours)
    return result


def entry_from_tavern(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, Mapping):
        raise RoleplayError(f"{where}: a lorebook entry must be an object")
    others, ours = split_namespace(entry.get("extensions"), f"{where}.extensions")
    result: dict[str, Any] = {
        "keys": _keys(entry.get("keys"), where),
        "secondary_keys": _keys(entry.get("secondary_keys"), where),
        "content": _text(entry.get("content")),
        # Absent means off in SillyTavern (secondary keys ignored); our YAML defaults to on.
        "selective": entry.get("selective", False),
    }
    for field in ("constant", "enabled", "insertion_order", "priority", "comment"):
        value = entry.get(field)
        if value is not None:
            result[field] = _integral(value)
    if result.get("comment") == "":
        del result["comment"]
    # SillyTavern's settings in the entry's extensions: taken when they hold a valid value
    # (null means "use the global setting", our default); anything else stays where it is.
    logic = others.get("selectiveLogic")
    if type(logic) is int and logic in LOGIC_NAMES:
        result["selective_logic"] = LOGIC_NAMES[others.pop("selectiveLogic")]
    # Null stays where it is (SillyTavern writes it), so a card comes back exactly.
    for field in ("match_whole_words", "case_sensitive"):
        if isinstance(others.get(field), bool):
            result[field] = others.pop(field)
    if entry.get("case_sensitive") is not None:  # the spec's own field wins
        result["case_sensitive"] = entry["case_sensitive"]
        others.pop("case_sensitive", None)  # export writes the field's value there
    result.update(_settings_from_extensions(others, entry.get("position")))
    unmapped = {
        key: value
        for key, value in entry.items()
        if key not in _ENTRY_FIELDS and _DROPPED_DEFAULTS.get(key, _MISSING) != value
    }
    ours.pop(UNMAPPED, None)
    if unmapped:
        ours[UNMAPPED] = unmapped
    result["extensions"] = join_namespace(others, ours)
    return {key: value for key, value in result.items() if value is not None}


def _settings_from_extensions(others: dict[str, Any], spec_position: Any) -> dict[str, Any]:
    """SillyTavern's per-entry settings from the entry's ``extensions`` (``others``, from
    which what becomes a field exactly is removed); ``spec_position`` is the spec's own
    ``position``, used when the extensions have none (as SillyTavern does)."""
    result: dict[str, Any] = {}
    raw = others.get("position")
    if raw is None:
        # Null is "not set" for SillyTavern too; dropped, as the spec's position is used
        # and our export writes its code here.
        others.pop("position", None)
        if spec_position in POSITION_CODES:
            result["position"] = spec_position
    else:
        code = whole_number(raw)
        name = POSITION_NAMES.get(code) if code is not None else None
        if name is not None:
            result["position"] = name
            if POSITION_CODES[name] == code:  # else the finer code stays for export
                del others["position"]
    role = whole_number(others.get("role"))
    if role in ROLE_NAMES:
        result["role"] = ROLE_NAMES[role]
        del others["role"]
    for field, key in _EXTENSION_FLAGS.items():
        if isinstance(others.get(key), bool):
            result[field] = others.pop(key)
    for field, (key, low, high) in _EXTENSION_NUMBERS.items():
        number = whole_number(others.get(key))
        if number is not None and low <= number <= high:
            result[field] = number
            del others[key]
    group = others.get("group")
    if isinstance(group, str) and group.strip():
        result["group"] = others.pop("group")
    delay = others.get("delay_until_recursion")
    level = whole_number(delay)
    if isinstance(delay, bool):
        result["delay_until_recursion"] = others.pop("delay_until_recursion")
    elif level is not None and 1 <= level <= MAX_LORE_DEPTH:
        result["delay_until_recursion"] = level
        del others["delay_until_recursion"]
    return result


def book_to_tavern(book: Mapping[str, Any], *, v3: bool) -> dict[str, Any]:
    """``character_book`` from our lorebook (a ``model_dump()``)."""
    others, ours = split_namespace(book.get("extensions"), "lorebook.extensions")
    unmapped = ours.pop(UNMAPPED, None) or {}
    result: dict[str, Any] = {}
    for field in _BOOK_FIELDS:
        if book.get(field) is not None:
            result[field] = book[field]
    result.update(unmapped)
    result["extensions"] = join_namespace(others, ours)
    result["entries"] = [entry_to_tavern(entry, v3=v3) for entry in book.get("entries", [])]
    return result


def entry_to_tavern(entry: Mapping[str, Any], *, v3: bool) -> dict[str, Any]:
    others, ours = split_namespace(entry.get("extensions"), "lorebook entry extensions")
    unmapped = ours.pop(UNMAPPED, None) or {}
    others["selectiveLogic"] = LOGIC_CODES[entry.get("selective_logic", "and_any")]
    if entry.get("match_whole_words") is not None:
        others["match_whole_words"] = entry["match_whole_words"]
    if entry.get("case_sensitive") is not None:
        others["case_sensitive"] = entry["case_sensitive"]
    if entry.get("position") is not None:
        others["position"] = position_code(entry["position"], others.get("position"))
    if entry.get("role") is not None:
        others["role"] = ROLE_CODES[entry["role"]]
    for field, key in _EXTENSION_FLAGS.items():
        if entry.get(field) is not None:
            others[key] = entry[field]
    for field, (key, _, _) in _EXTENSION_NUMBERS.items():
        if entry.get(field) is not None:
            others[key] = entry[field]
    for field in ("group", "delay_until_recursion"):
        if entry.get(field) is not None:
            others[field] = entry[field]
    result: dict[str, Any] = {
        "keys": list(entry.get("keys", [])),
        "secondary_keys": list(entry.get("secondary_keys", [])),
        "content": entry.get("content", ""),
        "selective": entry.get("selective", True),
        "constant": entry.get("constant", False),
        "enabled": entry.get("enabled", True),
        "insertion_order": entry.get("insertion_order", 100),
        "comment": entry.get("comment") or "",
    }
    if entry.get("priority") is not None:
        result["priority"] = entry["priority"]
    if entry.get("case_sensitive") is not None:
        result["case_sensitive"] = entry["case_sensitive"]
    if v3:
        result["use_regex"] = False  # like SillyTavern, only /pattern/flags keys are regexes
    result.update(unmapped)
    result["extensions"] = join_namespace(others, ours)
    return result


def _keys(value: Any, where: str) -> list[str]:
    """Keys as a list of non-blank strings; a comma-separated string is tolerated."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise RoleplayError(f"{where}: lorebook keys must be a list of strings")
    return [key.strip() for key in value if key.strip()]


def _text(value: Any) -> str:
    if value is None:
        return ""
    return str(value).replace("\r\n", "\n")


def _integral(value: Any) -> Any:
    # JSON writers sometimes emit 100.0 for an integer field.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return value.replace("\r\n", "\n")
    return value
