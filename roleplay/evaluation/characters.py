"""Turning ``--character`` / ``--characters`` values into card files, before any model loads."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from roleplay.cards.loader import load_card
from roleplay.cards.registry import CARD_SUFFIXES, bundled_characters_dir, resolve_card
from roleplay.errors import RoleplayError
from roleplay.resources import package_path

# The frozen evaluation set: written before any tuning and never tuned on (README.md there).
EVALUATION_CHARACTERS_DIR = package_path("roleplay.evaluation", "data") / "evaluation_characters"
# The frozen confirmation set: written after the evaluation set had been used to choose
# defaults, to confirm them; later rules pooled over both sets chose on it too (README.md there).
CONFIRMATION_CHARACTERS_DIR = (
    package_path("roleplay.evaluation", "data") / "confirmation_characters"
)
# The frozen replication set: written after choices had been made on both sets above (the
# note's depth, the fluency bounds), to report chat's shipped configuration on characters
# no choice has seen (README.md there).
REPLICATION_CHARACTERS_DIR = package_path("roleplay.evaluation", "data") / "replication_characters"
# The fitting set: sixteen cards in a balanced design, written only to fit the steering
# vectors' cross-talk (control/data/crosstalk.yaml); never interviewed to report fidelity, so
# it is not one of ``CARD_SETS`` (README.md there).
FITTING_SET = "fitting"
FITTING_CHARACTERS_DIR = package_path("roleplay.evaluation", "data") / "fitting_characters"

# ``--card-set`` names: the bundled characters are what prompts, steering and the likelihood
# reference are tuned on; the evaluation set is what fidelity is reported on (and what the
# drift ablations chose on); the confirmation set was meant only to report, and later
# comparisons pooled over both held-out sets chose on it too; the replication set only reports.
CARD_SETS = ("bundled", "evaluation", "confirmation", "replication")
FROZEN_CARD_SET_DIRS = {
    "evaluation": EVALUATION_CHARACTERS_DIR,
    "confirmation": CONFIRMATION_CHARACTERS_DIR,
    "replication": REPLICATION_CHARACTERS_DIR,
}


def _cards_in(folder: Path) -> list[Path]:
    return sorted(
        (path for path in folder.iterdir() if path.suffix.lower() in CARD_SUFFIXES),
        key=lambda path: path.name.casefold(),
    )


def bundled_character_paths() -> list[Path]:
    """The bundled cards (``characters/*.yaml``), sorted by file name."""
    return _cards_in(bundled_characters_dir())


def card_set_paths(name: str) -> list[Path]:
    """The cards of a named set (one of ``CARD_SETS``, or ``FITTING_SET``); other names are
    an error."""
    if name == "bundled":
        return bundled_character_paths()
    if name in FROZEN_CARD_SET_DIRS:
        return _cards_in(FROZEN_CARD_SET_DIRS[name])
    if name == FITTING_SET:
        return _cards_in(FITTING_CHARACTERS_DIR)
    known = ", ".join((*CARD_SETS, FITTING_SET))
    raise RoleplayError(f"unknown card set {name!r}; choose from {known}")


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
