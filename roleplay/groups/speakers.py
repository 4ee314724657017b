"""Who speaks next in a group scene.

Three orders, as in SillyTavern's group chats:

- ``natural``: characters named in the last message speak first (in the order they are
  named), then each other present, unmuted character joins with a chance equal to its
  talkativeness; when nobody is chosen, one is drawn at random. The character who spoke
  last does not answer itself.
- ``round-robin``: the next present, unmuted character after the last speaker, in the
  scene's order.
- ``manual``: nobody speaks on their own; the user picks with ``/as NAME``.

Talkativeness is the card's SillyTavern ``extensions.talkativeness`` when it has one,
otherwise it follows extraversion (see ``talkativeness``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from ruamel.yaml import YAML

from roleplay.cards.model import Card
from roleplay.errors import RoleplayError
from roleplay.resources import package_path

SpeakerOrder = Literal["natural", "round-robin", "manual"]
SPEAKER_ORDERS: tuple[str, ...] = ("natural", "round-robin", "manual")

# Extraversion 0 -> 0.2, 1 -> 0.9: the quietest still speaks sometimes, the most
# talkative does not drown the others every turn.
QUIET_TALKATIVENESS = 0.2
LOUD_TALKATIVENESS = 0.9


@dataclass(frozen=True)
class SceneSeat:
    """A character as the speaker choice sees it."""

    name: str
    talkativeness: float
    aliases: tuple[str, ...] = ()  # other ways the user may name them (first name, CLI id)
    muted: bool = False


@lru_cache(maxsize=1)
def titles() -> frozenset[str]:
    """Words of a name that do not name the person (data/name_titles.yaml)."""
    path = package_path("roleplay.groups", "data", "name_titles.yaml")
    data = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    return frozenset(str(word).casefold() for word in data["titles"])


def name_aliases(name: str) -> tuple[str, ...]:
    """The shorter names people use for a character: each word of its name but titles."""
    words = [word.strip(".,") for word in name.split()]
    return tuple(word for word in words if len(word) > 1 and word.casefold() not in titles())


def check_order(order: str) -> SpeakerOrder:
    if order not in SPEAKER_ORDERS:
        raise RoleplayError(f"speaker order {order!r}: use one of {', '.join(SPEAKER_ORDERS)}")
    return order  # type: ignore[return-value]


def talkativeness(card: Card) -> float:
    """How readily a character speaks up, 0 to 1."""
    written = card.extensions.get("talkativeness")
    try:
        value = float(written) if written is not None else None
    except (TypeError, ValueError):
        value = None
    if value is not None and 0.0 <= value <= 1.0:
        return value
    extraversion = card.personality.big_five.extraversion
    return QUIET_TALKATIVENESS + (LOUD_TALKATIVENESS - QUIET_TALKATIVENESS) * extraversion


def mentioned(seats: Sequence[SceneSeat], text: str) -> list[str]:
    """The seats named in ``text``, in the order their names first appear."""
    positions: list[tuple[int, str]] = []
    for seat in seats:
        found = [
            match.start()
            for alias in (seat.name, *seat.aliases)
            if alias.strip()
            for match in [re.search(rf"(?<!\w){re.escape(alias)}(?!\w)", text, re.IGNORECASE)]
            if match is not None
        ]
        if found:
            positions.append((min(found), seat.name))
    return [name for _, name in sorted(positions)]


def next_speakers(
    seats: Sequence[SceneSeat],
    order: SpeakerOrder,
    *,
    last_text: str,
    last_speaker: str | None,
    rng: random.Random,
) -> list[str]:
    """Who answers the last message, in speaking order (empty in ``manual`` order)."""
    candidates = [seat for seat in seats if not seat.muted]
    if order == "manual" or not candidates:
        return []
    if order == "round-robin":
        names = [seat.name for seat in seats]
        start = names.index(last_speaker) + 1 if last_speaker in names else 0
        for step in range(len(names)):
            seat = seats[(start + step) % len(names)]
            if not seat.muted:
                return [seat.name]
        return []
    others = [seat for seat in candidates if seat.name != last_speaker] or candidates
    chosen = mentioned(others, last_text)
    for seat in others:
        if seat.name not in chosen and rng.random() < seat.talkativeness:
            chosen.append(seat.name)
    if not chosen:
        chosen.append(rng.choice(others).name)
    return chosen
