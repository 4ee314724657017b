"""Where cards live and how a name on the command line becomes a card file.

Two folders hold cards: the bundled ``characters/`` folder (shipped as ``roleplay.characters``) and
the user's ``$ROLEPLAY_HOME/characters``. A user card shadows a bundled one with the same
name. Names are only ever compared against the files actually listed in those folders, so
a name such as ``../../etc/passwd`` can never be turned into a path that escapes them.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from roleplay import paths
from roleplay.cards.loader import check_card
from roleplay.cards.model import Card
from roleplay.errors import RoleplayError
from roleplay.resources import package_path

CardSource = Literal["bundled", "user"]
CARD_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class CardEntry:
    """One card file in a characters folder. ``error`` is set (and ``card`` is None) when
    the file does not validate, so listing never fails because of one broken card."""

    slug: str
    name: str
    path: Path
    source: CardSource
    error: str | None = None
    card: Card | None = field(default=None, repr=False, compare=False)


def bundled_characters_dir() -> Path:
    """The bundled cards: the package ``roleplay.characters`` (the top-level ``characters/``
    folder of a checkout, mapped in pyproject.toml; package data in an installed wheel)."""
    return package_path("roleplay.characters")


def user_characters_dir() -> Path:
    return paths.user_characters_dir()


def list_cards() -> list[CardEntry]:
    """User cards, then bundled cards, each sorted by file name."""
    return [
        _entry(path, source) for source, folder in _card_folders() for path in _card_files(folder)
    ]


def resolve_card(name_or_path: str) -> Path:
    """The card file for a path, a file stem (slug) or a card name (case-insensitive).

    An existing file path wins; then an exact slug or name, user cards before bundled ones,
    slug first and name second; then an unambiguous prefix of a slug or a name (imported
    cards get long slugs such as ``coding-sensei-f67a9c2e``, and ``coding`` should do).
    """
    given = Path(name_or_path).expanduser()
    if _is_file(given):
        return given
    wanted = _fold(name_or_path)
    wanted_stem = _fold(_strip_suffix(name_or_path))
    listed: list[CardEntry] = []  # every card parsed on the way, for the prefix search
    for source, folder in _card_folders():
        files = _card_files(folder)
        for path in files:
            if _fold(path.stem) == wanted_stem:
                return path
        entries = [_entry(path, source) for path in files]
        for entry in entries:
            if entry.card is not None and _fold(entry.name) == wanted:
                return entry.path
        listed.extend(entries)
    candidates = _prefix_matches(wanted_stem, listed)
    if len(candidates) == 1:
        return candidates[0].path
    if candidates:
        raise RoleplayError(_ambiguous_message(name_or_path, candidates))
    raise RoleplayError(_unknown_message(name_or_path))


def _card_folders() -> list[tuple[CardSource, Path]]:
    return [("user", user_characters_dir()), ("bundled", bundled_characters_dir())]


def _prefix_matches(prefix: str, entries: list[CardEntry]) -> list[CardEntry]:
    """The cards whose slug or name starts with ``prefix``. ``entries`` lists user cards
    first, and a user card hides the bundled card with the same slug. Broken cards match by
    slug, so loading one reports its problems rather than "unknown character"."""
    if not prefix:
        return []
    found: dict[str, CardEntry] = {}
    for entry in entries:
        slug = _fold(entry.slug)
        if slug not in found and (slug.startswith(prefix) or _fold(entry.name).startswith(prefix)):
            found[slug] = entry
    return list(found.values())


def _entry(path: Path, source: CardSource) -> CardEntry:
    check = check_card(path)
    if check.card is not None:
        return CardEntry(path.stem, check.card.name, path, source, None, check.card)
    first = check.errors[0]
    more = len(check.errors) - 1
    error = str(first) + (f" (and {more} more)" if more else "")
    return CardEntry(path.stem, path.stem, path, source, error, None)


def _card_files(folder: Path) -> list[Path]:
    try:
        children = list(folder.iterdir())
    except OSError:  # a missing or unreadable folder simply holds no cards
        return []
    return sorted(
        (
            child
            for child in children
            if child.suffix.lower() in CARD_SUFFIXES
            and not child.name.startswith(".")
            and _is_file(child)
        ),
        key=lambda child: child.name.casefold(),
    )


def _is_file(path: Path) -> bool:
    # Path.is_file() raises for NUL bytes or over-long names; both just mean "not a file".
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _strip_suffix(name: str) -> str:
    for suffix in CARD_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _shown(name_or_path: str) -> str:
    return name_or_path if len(name_or_path) <= 60 else name_or_path[:59] + "…"


def _ambiguous_message(name: str, candidates: list[CardEntry]) -> str:
    listed = ", ".join(f"{entry.slug} ({entry.name})" for entry in candidates)
    return f"{_shown(name)!r} matches several characters: {listed}; give more of it"


def _unknown_message(name_or_path: str) -> str:
    shown = _shown(name_or_path)
    if _is_dir(Path(name_or_path).expanduser()):
        return f"{shown!r} is a directory; give a card file (.yaml) or a character name"
    candidates: dict[str, str] = {}
    for entry in list_cards():
        candidates.setdefault(_fold(entry.slug), entry.slug)
        candidates.setdefault(_fold(entry.name), entry.name)
    close = difflib.get_close_matches(_fold(_strip_suffix(name_or_path)), list(candidates), n=1)
    hint = f" (did you mean {candidates[close[0]]!r}?)" if close else ""
    return f"unknown character {shown!r}{hint}; `roleplay characters` lists them"


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False
