"""Lorebook keys: plain words or ``/pattern/flags`` regular expressions, as in SillyTavern.

Regex keys come from strangers' cards, so they are data, never trusted code: a pattern is
limited in length, compiled with the third-party ``regex`` module (already installed with
``transformers``) because, unlike ``re``, it can stop a search after a timeout, and the
scanner also bounds how much text each search sees. A key that does not compile is a card
error, reported at its place in the file by the card model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import regex

# Longer patterns are almost never a keyword and are the usual shape of pathological ones.
MAX_PATTERN_LENGTH = 300

# SillyTavern's own test for a regex key: a leading slash, a body, a slash and JS flags.
_REGEX_KEY = re.compile(r"^/(.+)/([a-z]*)$", re.DOTALL)
# JS flags -> regex flags. g (global), y (sticky) and u (unicode) change nothing for a
# yes/no search in Python, where patterns are unicode anyway.
_FLAGS = {"i": regex.IGNORECASE, "m": regex.MULTILINE, "s": regex.DOTALL}
_IGNORED_FLAGS = frozenset("guy")


@dataclass(frozen=True)
class KeySpec:
    """One parsed key: ``pattern`` is set for a regex key, ``text`` for a plain one."""

    text: str
    pattern: regex.Pattern[str] | None = None

    @property
    def is_regex(self) -> bool:
        return self.pattern is not None


def is_regex_key(key: str) -> bool:
    match = _REGEX_KEY.match(key)
    return match is not None and set(match.group(2)) <= set(_FLAGS) | _IGNORED_FLAGS


@lru_cache(maxsize=4096)
def parse_key(key: str) -> KeySpec:
    """Parse a key; raises ``ValueError`` (with a readable reason) for a bad regex key."""
    if not is_regex_key(key):
        return KeySpec(text=key)
    match = _REGEX_KEY.match(key)
    assert match is not None
    body, flag_letters = match.group(1), match.group(2)
    if len(body) > MAX_PATTERN_LENGTH:
        raise ValueError(
            f"regular expression is too long ({len(body)} characters; at most {MAX_PATTERN_LENGTH})"
        )
    flags = regex.V0
    for letter in flag_letters:
        flags |= _FLAGS.get(letter, 0)
    try:
        compiled = regex.compile(body, flags)
    except (regex.error, ValueError, OverflowError, RecursionError) as error:
        raise ValueError(f"invalid regular expression /{_short(body)}/: {error}") from None
    return KeySpec(text=key, pattern=compiled)


def check_key(key: str) -> str:
    """Validator for card models: the key unchanged, or ``ValueError`` if it cannot be used."""
    parse_key(key)
    return key


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
