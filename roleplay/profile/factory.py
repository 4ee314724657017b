"""The pipeline's ``profile_factory``: one shared store, one ``UserProfile`` per
(card, user name)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from roleplay.cards.model import Card
from roleplay.profile.profile import DEFAULT_K, UserProfile
from roleplay.profile.store import ProfileStore


def make_profile_factory(
    path: Path | None = None, *, k: int = DEFAULT_K
) -> Callable[[Card, str], UserProfile]:
    """``(card, user_name) -> UserProfile`` keyed by ``card.name`` and the user name as given.

    The store (``path``, default ``<home>/profile.sqlite3``) is opened on the first call
    and shared by every profile the factory makes.
    """
    store: ProfileStore | None = None
    lock = threading.Lock()

    def factory(card: Card, user_name: str) -> UserProfile:
        nonlocal store
        with lock:
            if store is None:
                store = ProfileStore(path)
            return UserProfile(store, user_name, card.name, k=k)

    return factory
