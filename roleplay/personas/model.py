"""The user's persona: who ``{{user}}`` is in a chat.

A persona is a name (what ``{{user}}`` becomes in a card's text), a short description of
the user the character is talking to, and optionally the user's personality as Big Five
scores and/or an MBTI type (used by ``roleplay match``). The Big Five and MBTI types are the
card model's own (``roleplay.cards.model``), so a persona and a card are measured alike.
"""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict

from roleplay.cards.model import BIG_FIVE_TRAITS, BigFive, MbtiType
from roleplay.cards.personality import big_five_from_mbti

MAX_NAME_LENGTH = 64
MAX_DESCRIPTION_LENGTH = 4000


def check_persona_name(name: str) -> str:
    """``name`` trimmed; ValueError saying why it cannot name a persona."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("a persona name cannot be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ValueError(
            f"a persona name has at most {MAX_NAME_LENGTH} characters ({len(cleaned)} given)"
        )
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise ValueError("a persona name must be one line without control characters")
    return cleaned


def _check_description(text: str) -> str:
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_DESCRIPTION_LENGTH:
        raise ValueError(
            f"a persona description has at most {MAX_DESCRIPTION_LENGTH} characters "
            f"({len(text)} given)"
        )
    return text


PersonaName = Annotated[str, Strict(), AfterValidator(check_persona_name)]
Description = Annotated[str, Strict(), AfterValidator(_check_description)]


def now() -> datetime:
    """The current time in UTC, to the second (what the store writes)."""
    return datetime.now(UTC).replace(microsecond=0)


class Persona(BaseModel):
    """One user persona, as stored in ``<home>/personas/<slug>.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: PersonaName
    """What {{user}} becomes in the card's text; one line, at most 64 characters."""
    description: Description = ""
    """Who the user is, shown to the character (may be empty)."""
    big_five: BigFive | None = None
    """The user's OCEAN scores, each 0 (low) to 1 (high)."""
    mbti: MbtiType | None = None
    """One of the 16 MBTI types."""
    created_at: datetime = Field(default_factory=now)
    updated_at: datetime = Field(default_factory=now)

    def personality(self) -> tuple[BigFive | None, bool]:
        """The Big Five used for matching and whether it was derived from the MBTI type
        (``big_five_from_mbti``); ``(None, False)`` when the persona has neither."""
        if self.big_five is not None:
            return self.big_five, False
        if self.mbti is not None:
            return big_five_from_mbti(self.mbti), True
        return None, False


def parse_big_five(text: str) -> BigFive:
    """``"0.8,0.4,0.3,0.7,0.2"`` (OCEAN order) or ``"openness=0.8,extraversion=0.3,..."``
    (names or their first letters, any order; all five) -> ``BigFive``; ValueError saying
    what is wrong otherwise."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    keyed = [part for part in parts if "=" in part]
    if keyed and len(keyed) != len(parts):
        raise ValueError("give all five scores as O,C,E,A,N or all as trait=score")
    if not keyed:
        if len(parts) != len(BIG_FIVE_TRAITS):
            raise ValueError(
                f"give five scores in OCEAN order (openness, conscientiousness, extraversion, "
                f"agreeableness, neuroticism), not {len(parts)}"
            )
        pairs = list(zip(BIG_FIVE_TRAITS, parts, strict=True))
    else:
        pairs = []
        for part in keyed:
            key, _, value = part.partition("=")
            pairs.append((_trait(key), value))
        named = [trait for trait, _ in pairs]
        repeated = sorted({trait for trait in named if named.count(trait) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} given twice")
        missing = [trait for trait in BIG_FIVE_TRAITS if trait not in named]
        if missing:
            raise ValueError(f"missing {', '.join(missing)} (all five are needed)")
    scores = {trait: _score(trait, value) for trait, value in pairs}
    return BigFive.model_validate(scores)


def _trait(key: str) -> str:
    wanted = key.strip().lower()
    found = [trait for trait in BIG_FIVE_TRAITS if wanted and trait.startswith(wanted)]
    if len(found) != 1:
        raise ValueError(f"unknown trait {key.strip()!r} (use {', '.join(BIG_FIVE_TRAITS)})")
    return found[0]


def _score(trait: str, value: str) -> float:
    try:
        score = float(value.strip())
    except ValueError:
        raise ValueError(f"{trait}: {value.strip()!r} is not a number") from None
    if not 0.0 <= score <= 1.0:  # also refuses nan
        raise ValueError(f"{trait}: {score:g} is outside 0 to 1")
    return score
