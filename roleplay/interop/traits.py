"""Estimate Big Five scores from a card's text (``roleplay card import --infer-traits``).

Method: count trait-marker words (``data/trait_lexicon.yaml``) for each pole of each trait in
the description and free-text personality; a marker right after a negation ("not shy")
counts for the other pole. Each score is ``0.5 + 0.4 * (high - low) / (high + low + 2)``:
0.5 with no evidence, moving towards 0.1 or 0.9 as one-sided evidence accumulates (the +2
keeps two words from looking like certainty). It is a rough first draft for an author to
review, and the card says so (``extensions.roleplay.traits_source: estimated``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from pydantic import BaseModel, ConfigDict
from ruamel.yaml import YAML

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.resources import package_path

_DATA_FILE = package_path("roleplay.interop", "data", "trait_lexicon.yaml")
_SPREAD = 0.4
_PRIOR = 2
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


class _Poles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high: list[str]
    low: list[str]


class _Trait(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    markers: _Poles
    card_words: _Poles


class _Lexicon(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    negations: list[str]
    traits: dict[str, _Trait]


@dataclass
class TraitEstimate:
    scores: dict[str, float]
    # trait -> the words that counted, each prefixed with + (high) or - (low)
    evidence: dict[str, list[str]] = field(default_factory=dict)


@cache
def _lexicon() -> tuple[frozenset[str], dict[str, dict[str, str]]]:
    """Negation words, and for each trait: word -> "high" | "low"."""
    lexicon = _Lexicon.model_validate(YAML(typ="safe", pure=True).load(_DATA_FILE))
    if set(lexicon.traits) != set(BIG_FIVE_TRAITS):  # a packaging bug, not a user error
        raise RuntimeError(f"{_DATA_FILE} must list exactly the Big Five traits")
    poles: dict[str, dict[str, str]] = {}
    for trait, words in lexicon.traits.items():
        poles[trait] = {}
        for group in (words.markers, words.card_words):
            poles[trait].update(dict.fromkeys((word.lower() for word in group.high), "high"))
            poles[trait].update(dict.fromkeys((word.lower() for word in group.low), "low"))
    return frozenset(word.lower() for word in lexicon.negations), poles


def estimate_big_five(text: str) -> TraitEstimate:
    negations, poles = _lexicon()
    words = [match.group(0).lower() for match in _WORD.finditer(text)]
    counts = {trait: {"high": 0, "low": 0} for trait in BIG_FIVE_TRAITS}
    evidence: dict[str, list[str]] = {trait: [] for trait in BIG_FIVE_TRAITS}
    for index, word in enumerate(words):
        negated = index > 0 and words[index - 1] in negations
        for trait in BIG_FIVE_TRAITS:
            pole = poles[trait].get(word)
            if pole is None:
                continue
            if negated:
                pole = "low" if pole == "high" else "high"
            counts[trait][pole] += 1
            shown = f"not {word}" if negated else word
            evidence[trait].append(("+" if pole == "high" else "-") + shown)
    scores = {
        trait: round(
            0.5
            + _SPREAD * (count["high"] - count["low"]) / (count["high"] + count["low"] + _PRIOR),
            2,
        )
        for trait, count in counts.items()
    }
    return TraitEstimate(scores, {trait: found for trait, found in evidence.items() if found})
