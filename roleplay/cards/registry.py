"""Where cards live and how a name on the command line becomes a card file.

Two folders hold cards: the bundled ``characters/`` folder at the top of the repository and
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
    return Path(__file__).resolve().parents[2] / "characters"


def user_characters_dir() -> Path:
    return paths.user_characters_dir()


def list_cards() -> list[CardEntry]:
    """User cards, then bundled cards, each sorted by file name."""
    return [
        *(_entry(path, "user") for path in _card_files(user_characters_dir())),
        *(_entry(path, "bundled") for path in _card_files(bundled_characters_dir())),
    ]


def resolve_card(name_or_path: str) -> Path:
    """The card file for a path, a file stem or a card name (case-insensitive).

    An existing file path wins; otherwise user cards are searched before bundled ones, by
    file stem first and card name second.
    """
    given = Path(name_or_path).expanduser()
    if _is_file(given):
        return given
    wanted = _fold(name_or_path)
    wanted_stem = _fold(_strip_suffix(name_or_path))
    searched: list[tuple[CardSource, Path]] = [
        ("user", user_characters_dir()),
        ("bundled", bundled_characters_dir()),
    ]
    for source, folder in searched:
        files = _card_files(folder)
        for path in files:
            if _fold(path.stem) == wanted_stem:
                return path
        for path in files:
            entry = _entry(path, source)
            if entry.card is not None and _fold(entry.name) == wanted:
                return path
    raise RoleplayError(_unknown_message(name_or_path))


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


def _unknown_message(name_or_path: str) -> str:
    shown = name_or_path if len(name_or_path) <= 60 else name_or_path[:59] + "…"
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
