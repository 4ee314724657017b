"""SillyTavern World Info JSON -> the card model's ``Lorebook``.

A World Info file (what SillyTavern's "Export" button writes and what people share) is
``{"entries": {"<uid>": {...}, ...}}``, sometimes with ``name`` and ``originalData`` (the
``character_book`` it was converted from). Each entry is mapped to a ``LoreEntry``:

    key -> keys                     keysecondary -> secondary_keys
    selective -> selective          selectiveLogic (0-3) -> selective_logic
    constant -> constant            disable -> not enabled
    content, comment                order -> insertion_order
    caseSensitive -> case_sensitive matchWholeWords -> match_whole_words
    position (0-6) -> position      depth -> depth (0-1000)
    role (0-2) -> role              probability (0-100) -> probability
    useProbability -> use_probability
    group -> group                  groupOverride -> group_override
    groupWeight -> group_weight     scanDepth -> scan_depth (0-1000)
    excludeRecursion, preventRecursion -> exclude_recursion, prevent_recursion
    delayUntilRecursion (true/false or a level) -> delay_until_recursion

Positions: 0 before_char, 1 after_char, 4 at_depth; 2/3 (the top/bottom of the Author's
Note) become at_depth, 5/6 (the top/bottom of the example messages) after_char; 7 (an outlet)
and unknown codes keep the default placement. Roles: 0 system, 1 user, 2 assistant. Null is
SillyTavern's "use the default" and maps to None for every field.

Book settings (scan depth, token budget, recursion) are not part of World Info (they are
SillyTavern's global settings); when ``originalData`` carries valid ``scan_depth``,
``token_budget`` or ``recursive_scanning`` they are used. Every other field (``sticky``,
``cooldown``, ``delay``, ``useGroupScoring``, ``vectorized``, ``automationId``,
``characterFilter``, anything unknown) is not interpreted; the store keeps the file's bytes,
so all of them come back unchanged on export.

The fields mapped are checked: a wrong type is one line naming the file, the entry and the
field. Anything that is not World Info at all (not JSON, binary, another shape) is refused
the same way.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from roleplay.cards.model import MAX_LORE_DEPTH, Lorebook, LoreEntry
from roleplay.cards.tavern_lore import POSITION_NAMES, ROLE_NAMES, whole_number
from roleplay.errors import RoleplayError

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ENTRIES = 10_000
# SillyTavern's world_info_logic enum.
SELECTIVE_LOGIC = {0: "and_any", 1: "not_all", 2: "not_any", 3: "and_all"}
_BOOK_SETTINGS = ("scan_depth", "token_budget", "recursive_scanning")
# World Info field -> LoreEntry field, for the per-entry settings that are true/false ...
_FLAGS = {
    "useProbability": "use_probability",
    "groupOverride": "group_override",
    "excludeRecursion": "exclude_recursion",
    "preventRecursion": "prevent_recursion",
}
# ... and whole numbers within a range.
_NUMBERS = {
    "depth": ("depth", 0, MAX_LORE_DEPTH),
    "probability": ("probability", 0, 100),
    "groupWeight": ("group_weight", 0, 1_000_000),
    "scanDepth": ("scan_depth", 0, MAX_LORE_DEPTH),
}


def parse_world_info(data: bytes, where: str, *, name: str | None = None) -> Lorebook:
    """The lorebook in ``data`` (a World Info file's bytes); ``where`` names it in errors."""
    document = _load_json(data, where)
    entries = _entries(document, where)
    mapped = [_entry(entry, f"{where}: entry {uid!r}") for uid, entry in entries.items()]
    settings = _settings(document.get("originalData"))
    try:
        return Lorebook(name=name, entries=mapped, **settings)
    except ValidationError as error:
        raise RoleplayError(f"{where}: {_first_problem(error)}") from None


def _load_json(data: bytes, where: str) -> dict[str, Any]:
    if len(data) > MAX_FILE_BYTES:
        raise RoleplayError(
            f"{where}: {len(data):,} bytes is too large for a lorebook "
            f"(at most {MAX_FILE_BYTES // (1024 * 1024)} MB)"
        )
    if b"\x00" in data:
        raise RoleplayError(f"{where}: a binary file, not a World Info JSON file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RoleplayError(f"{where}: not UTF-8 text, not a World Info JSON file") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise RoleplayError(
            f"{where}: not JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ) from None
    except RecursionError:
        raise RoleplayError(f"{where}: JSON nested too deeply") from None
    if not isinstance(document, dict):
        raise RoleplayError(
            f"{where}: not World Info (the file holds {_kind(document)}, "
            'expected an object with "entries")'
        )
    return document


def _entries(document: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    if "entries" not in document:
        if "spec" in document or "data" in document or "char_name" in document:
            raise RoleplayError(
                f"{where}: a character card, not World Info; use `roleplay card import`"
            )
        raise RoleplayError(f'{where}: not World Info (no "entries" object)')
    entries = document["entries"]
    if isinstance(entries, list):
        raise RoleplayError(
            f'{where}: not SillyTavern World Info ("entries" is a list, as in a card\'s '
            "character_book; World Info keys its entries by uid)"
        )
    if not isinstance(entries, dict):
        raise RoleplayError(f'{where}: not World Info ("entries" is {_kind(entries)})')
    if len(entries) > MAX_ENTRIES:
        raise RoleplayError(f"{where}: {len(entries):,} entries (at most {MAX_ENTRIES:,})")
    return entries


def _entry(entry: Any, where: str) -> LoreEntry:
    if not isinstance(entry, dict):
        raise RoleplayError(f"{where}: an entry must be an object, not {_kind(entry)}")
    fields: dict[str, Any] = {
        "keys": _keys(entry, "key", where),
        "secondary_keys": _keys(entry, "keysecondary", where),
        "content": _text(entry, "content", where) or "",
        "comment": _text(entry, "comment", where) or None,
        # Absent means off in SillyTavern; our YAML default is on.
        "selective": bool(_flag(entry, "selective", where)),
        "constant": bool(_flag(entry, "constant", where)),
        "enabled": not _flag(entry, "disable", where),
        "case_sensitive": _flag(entry, "caseSensitive", where),
        "match_whole_words": _flag(entry, "matchWholeWords", where),
    }
    logic = entry.get("selectiveLogic")
    if logic is not None:
        if type(logic) is not int or logic not in SELECTIVE_LOGIC:
            raise RoleplayError(f"{where}: selectiveLogic must be 0, 1, 2 or 3, not {logic!r}")
        fields["selective_logic"] = SELECTIVE_LOGIC[logic]
    order = entry.get("order")
    if order is not None:
        if isinstance(order, float) and order.is_integer():
            order = int(order)
        if type(order) is not int:
            raise RoleplayError(f"{where}: order must be a whole number, not {order!r}")
        fields["insertion_order"] = order
    fields.update(_placement_and_activation(entry, where))
    try:
        return LoreEntry(**fields)
    except ValidationError as error:
        raise RoleplayError(f"{where}: {_first_problem(error)}") from None


def _placement_and_activation(entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Position, depth, role, probability, inclusion group, scan depth and recursion."""
    fields: dict[str, Any] = {}
    # Any whole number is accepted (SillyTavern adds positions); unknown ones are not mapped.
    position = _number(entry, "position", where, 0, None, "a position code (0-6)")
    if position is not None:
        fields["position"] = POSITION_NAMES.get(position)
    role = _number(entry, "role", where, 0, 2, "0 (system), 1 (user) or 2 (assistant)")
    if role is not None:
        fields["role"] = ROLE_NAMES[role]
    for theirs, ours in _FLAGS.items():
        fields[ours] = _flag(entry, theirs, where)
    for theirs, (ours, low, high) in _NUMBERS.items():
        fields[ours] = _number(entry, theirs, where, low, high)
    group = _text(entry, "group", where)
    fields["group"] = group if group and group.strip() else None
    delay = entry.get("delayUntilRecursion")
    if delay is not None and not isinstance(delay, bool):
        wanted = f"true, false or a recursion level from 1 to {MAX_LORE_DEPTH}"
        level = _number(entry, "delayUntilRecursion", where, 0, MAX_LORE_DEPTH, wanted)
        delay = level or False  # 0 is off, as in SillyTavern
    fields["delay_until_recursion"] = delay
    return {key: value for key, value in fields.items() if value is not None}


def _number(
    entry: Mapping[str, Any],
    field: str,
    where: str,
    low: int,
    high: int | None,
    wanted: str = "",
) -> int | None:
    """A whole number from ``low`` to ``high`` (no limit if None), or None when absent."""
    value = entry.get(field)
    if value is None:
        return None
    number = whole_number(value)
    if number is None or number < low or (high is not None and number > high):
        if not wanted:
            wanted = f"a whole number from {low} to {high}"
        raise RoleplayError(f"{where}: {field} must be {wanted}, not {value!r}")
    return number


def _keys(entry: Mapping[str, Any], field: str, where: str) -> list[str]:
    value = entry.get(field)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(key, str) for key in value):
        raise RoleplayError(f"{where}: {field} must be a list of strings, not {_kind(value)}")
    return [key.strip() for key in value if key.strip()]


def _text(entry: Mapping[str, Any], field: str, where: str) -> str | None:
    value = entry.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RoleplayError(f"{where}: {field} must be text, not {_kind(value)}")
    return value.replace("\r\n", "\n")


def _flag(entry: Mapping[str, Any], field: str, where: str) -> bool | None:
    value = entry.get(field)
    if value is not None and not isinstance(value, bool):
        raise RoleplayError(f"{where}: {field} must be true or false, not {value!r}")
    return value


def _settings(original: Any) -> dict[str, Any]:
    """Scan depth, budget and recursion from ``originalData``, where valid (else defaults)."""
    if not isinstance(original, dict):
        return {}
    settings: dict[str, Any] = {}
    for field in _BOOK_SETTINGS:
        value = original.get(field)
        if field == "recursive_scanning":
            if isinstance(value, bool):
                settings[field] = value
        elif type(value) is int and value > 0:
            settings[field] = value
    try:
        Lorebook(**settings)
    except ValidationError:
        return {}  # out of range: SillyTavern's copy, not ours to refuse the file for
    return settings


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    place = ".".join(str(part) for part in first["loc"])
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{place}: {first['msg']}{more}" if place else f"{first['msg']}{more}"


def _kind(value: Any) -> str:
    """What a JSON value is, for messages: "a string", "an array", "null"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        if value and not all(isinstance(item, str) for item in value):
            return "an array holding " + _kind(next(v for v in value if not isinstance(v, str)))
        return "an array"
    return "an object"
