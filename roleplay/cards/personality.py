"""Personality maths: Big Five levels and how MBTI letters relate to Big Five scores.

The letter-to-trait numbers live in ``data/mbti_big_five.yaml`` (with their source), so they
can be tuned without touching code.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from roleplay.cards.model import BIG_FIVE_TRAITS, BigFive, normalise_mbti
from roleplay.resources import package_path

TraitLevel = Literal["low", "moderate", "high"]

LOW_BELOW = 0.35
HIGH_ABOVE = 0.65

_DATA_FILE = package_path("roleplay.cards", "data", "mbti_big_five.yaml")


def trait_level(score: float) -> TraitLevel:
    """Bucket a 0..1 trait score: low below 0.35, high above 0.65, moderate in between."""
    if score < LOW_BELOW:
        return "low"
    if score > HIGH_ABOVE:
        return "high"
    return "moderate"


class _Letter(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trait: Literal["openness", "conscientiousness", "extraversion", "agreeableness"]
    score: float = Field(ge=0.0, le=1.0)
    label: str


class _MbtiTable(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    letters: dict[str, _Letter]
    unmapped_default: float = Field(ge=0.0, le=1.0)
    contradiction_margin: float = Field(ge=0.0, le=0.5)


@cache
def _table() -> _MbtiTable:
    table = _MbtiTable.model_validate(YAML(typ="safe", pure=True).load(_DATA_FILE))
    missing = set("EISNTFJP") - set(table.letters)
    if missing:  # a broken data file is a packaging bug, not a user error
        raise RuntimeError(f"{_DATA_FILE} lacks MBTI letters {sorted(missing)}")
    return table


def mbti_contradictions(big_five: BigFive, mbti: str) -> list[str]:
    """Human-readable notes for each MBTI letter that contradicts the Big Five scores.

    A letter contradicts its trait only when the score is clearly on the other side of the
    midpoint (by more than the data file's margin), so moderate scores fit either letter.
    """
    table = _table()
    scores = big_five.as_dict()
    notes = []
    for letter in normalise_mbti(mbti):
        rule = table.letters[letter]
        score = scores[rule.trait]
        says_high = rule.score > 0.5
        if says_high and score < 0.5 - table.contradiction_margin:
            side, fix = "high", f"a score above {0.5 - table.contradiction_margin:g}"
        elif not says_high and score > 0.5 + table.contradiction_margin:
            side, fix = "low", f"a score below {0.5 + table.contradiction_margin:g}"
        else:
            continue
        notes.append(
            f"'{letter}' ({rule.label}) means {side} {rule.trait}, but big_five.{rule.trait} "
            f"is {score:g} (expected {fix})"
        )
    return notes


def big_five_from_mbti(mbti: str) -> BigFive:
    """Starting Big Five scores for a card drafted from an MBTI type alone."""
    table = _table()
    scores = dict.fromkeys(BIG_FIVE_TRAITS, table.unmapped_default)
    for letter in normalise_mbti(mbti):
        rule = table.letters[letter]
        scores[rule.trait] = rule.score
    return BigFive.model_validate(scores)
