"""SillyTavern's codes for a lorebook entry's settings <-> the card model's names.

Shared by the World Info reader (``roleplay.lorebooks``) and the ``character_book`` mapping
(``roleplay.interop``), which are siblings and may not import each other.
"""

from __future__ import annotations

from typing import Any

from roleplay.cards.model import LorePosition, LoreRole

# world_info_position: 0 before the character's definition, 1 after it, 2/3 the top/bottom
# of the Author's Note, 4 at a depth in the chat, 5/6 the top/bottom of the example
# messages. The Author's Note is a note at a depth in the chat, as this platform's own
# character note, so 2/3 become at_depth; the example messages follow the character's
# definition here, so 5/6 become after_char. 7 (an "outlet" that only a {{outlet::name}}
# macro prints) and unknown codes are not mapped: the entry gets the default placement.
POSITION_NAMES: dict[int, LorePosition] = {
    0: "before_char",
    1: "after_char",
    2: "at_depth",
    3: "at_depth",
    4: "at_depth",
    5: "after_char",
    6: "after_char",
}
POSITION_CODES: dict[LorePosition, int] = {"before_char": 0, "after_char": 1, "at_depth": 4}
# extension_prompt_roles.
ROLE_NAMES: dict[int, LoreRole] = {0: "system", 1: "user", 2: "assistant"}
ROLE_CODES: dict[LoreRole, int] = {name: code for code, name in ROLE_NAMES.items()}


def whole_number(value: Any) -> int | None:
    """``value`` as an int when it is one (JSON writers sometimes emit 4.0), else None."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if type(value) is int:
        return value
    return None


def position_code(name: LorePosition, kept: Any = None) -> int:
    """The code to write for ``name``: ``kept`` (the code read on import) when it still
    means ``name`` (2 for the top of the Author's Note stays 2), else the plain one."""
    code = whole_number(kept)
    if code is not None and POSITION_NAMES.get(code) == name:
        return code
    return POSITION_CODES[name]
