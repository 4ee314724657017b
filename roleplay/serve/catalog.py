"""Characters as models: what ``GET /v1/models`` lists and what ``model`` may name.

A model id is the name ``roleplay chat -c`` takes (the card's file stem, e.g. ``mira``); the
card's display name is accepted too, case-insensitively. Only cards in the characters folders
can be named: unlike the CLI's ``-c``, a path is never accepted, so a client cannot make the
server read a file of its choosing.

Listing parses and validates every card, so the list is kept and scanned again when a client
asks for the list or names a character it does not hold (a card added while the server runs),
at most once a second.
"""

from __future__ import annotations

import difflib
import threading
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.cards.registry import CardEntry, list_cards

RESCAN_INTERVAL_S = 1.0


@dataclass(frozen=True)
class Character:
    id: str  # the file stem: what clients put in ``model``
    name: str  # the card's display name
    path: Path
    created: int  # the card file's modification time (OpenAI's ``created``)


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().casefold()


def _mtime(path: Path) -> int:
    try:
        return int(path.stat().st_mtime)
    except OSError:
        return 0


class CharacterCatalog:
    """The valid cards, by id; thread-safe (routes read it, rescans replace it whole)."""

    def __init__(self, lister: Callable[[], list[CardEntry]] = list_cards) -> None:
        self._lister = lister
        self._lock = threading.Lock()
        self._characters: dict[str, Character] = {}
        self._scanned_at = -float("inf")
        self._cards: dict[Path, tuple[int, Card]] = {}

    def characters(self) -> list[Character]:
        return list(self._characters.values())

    def refresh(self, *, force: bool = True) -> list[Character]:
        """Scan the characters folders (blocking: call it off the event loop)."""
        with self._lock:
            now = time.monotonic()
            if force or now - self._scanned_at >= RESCAN_INTERVAL_S:
                found: dict[str, Character] = {}
                for entry in self._lister():
                    if entry.card is None:
                        continue  # a broken card is `roleplay card validate`'s business
                    # User cards come first and shadow bundled ones of the same name.
                    found.setdefault(
                        entry.slug,
                        Character(entry.slug, entry.name, entry.path, _mtime(entry.path)),
                    )
                self._characters = found
                self._scanned_at = now
        return self.characters()

    def find(self, model: str) -> Character | None:
        """The character ``model`` names (id first, then display name), from the last scan."""
        wanted = _fold(model)
        characters = self._characters
        for character in characters.values():
            if _fold(character.id) == wanted:
                return character
        for character in characters.values():
            if _fold(character.name) == wanted:
                return character
        return None

    def lookup(self, model: str) -> Character | None:
        """``find``, scanning again first if the last scan does not hold it (blocking)."""
        found = self.find(model)
        if found is None:
            self.refresh(force=False)
            found = self.find(model)
        return found

    def suggestion(self, model: str) -> str | None:
        names = {_fold(c.id): c.id for c in self._characters.values()}
        close = difflib.get_close_matches(_fold(model), list(names), n=1)
        return names[close[0]] if close else None

    def card(self, character: Character) -> Card:
        """The character's card, parsed again only when its file changed."""
        stamp = character.path.stat().st_mtime_ns
        with self._lock:
            cached = self._cards.get(character.path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        card = load_card(character.path)
        with self._lock:
            self._cards[character.path] = (stamp, card)
        return card
