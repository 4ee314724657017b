"""Checks on what users hand the memory package, each failing with one clear line."""

from __future__ import annotations

from roleplay.errors import RoleplayError

MAX_RESULTS = 100


def check_text(text: str, what: str, max_chars: int) -> str:
    """The text itself, or a ``RoleplayError`` when it is blank or longer than ``max_chars``."""
    if not isinstance(text, str) or not text.strip():
        raise RoleplayError(f"{what} is empty")
    if len(text) > max_chars:
        raise RoleplayError(
            f"{what} is too long ({len(text):,} characters; the limit is {max_chars:,})"
        )
    if "\x00" in text:
        raise RoleplayError(f"{what} contains a NUL character")
    return text


def check_result_count(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_RESULTS:
        raise RoleplayError(f"the number of memories to recall must be 1..{MAX_RESULTS}, not {k}")
    return k
