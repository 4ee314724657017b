"""Turning ``--character`` / ``--characters`` values into card files, before any model loads."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from roleplay.cards.loader import load_card
from roleplay.cards.registry import CARD_SUFFIXES, bundled_characters_dir, resolve_card
from roleplay.errors import RoleplayError


def bundled_character_paths() -> list[Path]:
    """The bundled cards (``characters/*.yaml``), sorted by file name."""
    folder = bundled_characters_dir()
    return sorted(
        (path for path in folder.iterdir() if path.suffix.lower() in CARD_SUFFIXES),
        key=lambda path: path.name.casefold(),
    )


def split_names(values: Iterable[str]) -> list[str]:
    """``["mira,sable", "pip"]`` -> ``["mira", "sable", "pip"]`` (repeated or comma-joined)."""
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def resolve_characters(values: Iterable[str], *, minimum: int = 1) -> list[Path]:
    """Card files for the names given, each parsed; unknown names, broken cards and repeats
    are one-line errors (raised before a caller loads its model)."""
    names = split_names(values)
    if len(names) < minimum:
        raise RoleplayError(
            f"give at least {minimum} character{'s' if minimum > 1 else ''} "
            "(e.g. --characters mira,sable)"
        )
    paths: list[Path] = []
    for name in names:
        path = resolve_card(name).resolve()
        load_card(path)
        if path in paths:
            raise RoleplayError(f"character {name!r} is given twice")
        paths.append(path)
    return paths
