"""Which standalone lorebooks a chat uses: ``--lorebook`` names and the card's own list.

A card may name imported lorebooks in ``extensions: {roleplay: {lorebooks: [NAME, ...]}}``;
they are attached whenever the card is used, after its embedded book and before the
``--lorebook`` ones. Unknown names are an error (one line), checked before a model loads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from roleplay.cards.model import Card, Lorebook
from roleplay.errors import RoleplayError
from roleplay.lorebooks.store import LorebookStore

CARD_NAMESPACE = "roleplay"
CARD_FIELD = "lorebooks"


def split_names(values: Iterable[str] | None) -> list[str]:
    """``--lorebook a,b --lorebook c`` -> ``["a", "b", "c"]`` (blank parts and repeats,
    ignoring case, left out)."""
    names: list[str] = []
    seen: set[str] = set()
    for value in values or ():
        for part in value.split(","):
            name = part.strip()
            if name and name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
    return names


def check_lorebooks(values: Iterable[str] | None, store: LorebookStore | None = None) -> list[str]:
    """The stored names ``values`` refer to, each found and parsed now: an unknown name or a
    broken stored file fails before anything slow starts."""
    books = store or LorebookStore()
    names = []
    for name in split_names(values):
        stored = books.get(name)
        books.load(stored.name)
        names.append(stored.name)
    return names


def card_lorebook_names(card: Card) -> list[str]:
    """The lorebooks ``card`` names in ``extensions.roleplay.lorebooks``."""
    ours: Any = card.extensions.get(CARD_NAMESPACE)
    if not isinstance(ours, dict) or ours.get(CARD_FIELD) is None:
        return []
    value = ours[CARD_FIELD]
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise RoleplayError(
            f"card {card.name!r}: extensions.roleplay.lorebooks must be a list of lorebook names"
        )
    return split_names(value)


def load_lorebooks(names: Sequence[str], store: LorebookStore | None = None) -> list[Lorebook]:
    books = store or LorebookStore()
    return [books.load(name) for name in split_names(names)]


def card_lorebooks(card: Card, store: LorebookStore | None = None) -> list[Lorebook]:
    """The books ``card`` names, loaded; an unknown one is an error naming the card."""
    books = store or LorebookStore()
    loaded = []
    for name in card_lorebook_names(card):
        if books.find(name) is None:
            raise RoleplayError(
                f"card {card.name!r} names lorebook {name!r}, which is not imported "
                f"(roleplay lorebook import FILE --name {name!r})"
            )
        loaded.append(books.load(name))
    return loaded
