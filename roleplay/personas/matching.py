"""Which characters suit the user: rank cards against the persona's personality.

After CharacterChat (Tu et al., 2023), which matches people with companions whose
personality is either like theirs or complements it. The rule is data
(``data/matching.yaml``), kept simple so each result can be explained in one line:

- ``similar``: per trait, the fit is ``1 - |yours - theirs|``; the score is the mean over
  the Big Five (so 1 - mean absolute difference).
- ``complementary``: the character's wanted score is the opposite of yours for
  extraversion and openness (``1 - yours``), the same as yours for conscientiousness, high
  agreeableness and low neuroticism whoever you are; the fit per trait is
  ``1 - |wanted - theirs|`` and the score their mean.

When both the persona and the card have an MBTI type, the four letters count for 20% of
the score: the share of letters that are the ones the mode wants (your letter in
``similar``; for ``complementary`` the other E/I and S/N letter, your J/P letter and F).

A persona with only an MBTI type gets Big Five scores derived from it
(``roleplay.cards.personality.big_five_from_mbti``); so does a card. A card that cannot be
read is skipped with a note.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from roleplay.cards.model import BIG_FIVE_TRAITS, BigFive
from roleplay.cards.personality import big_five_from_mbti, trait_level
from roleplay.errors import RoleplayError
from roleplay.personas.model import Persona
from roleplay.resources import package_path

MatchMode = Literal["similar", "complementary"]
MATCH_MODES: tuple[str, ...] = get_args(MatchMode)
Want = Literal["same", "opposite", "high", "low"]

_DATA_FILE = package_path("roleplay.personas", "data", "matching.yaml")
_NOTE_CHARS = 160


class _Words(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    high: str
    low: str


class MatchingRule(BaseModel):
    """``data/matching.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mbti_weight: float = Field(ge=0.0, le=1.0)
    modes: dict[MatchMode, dict[str, Want]]
    mbti_scales: dict[str, tuple[str, str]]
    words: dict[str, _Words]


@cache
def matching_rule() -> MatchingRule:
    rule = MatchingRule.model_validate(YAML(typ="safe", pure=True).load(_DATA_FILE))
    traits = set(BIG_FIVE_TRAITS)  # a broken data file is a packaging bug, not a user error
    for mode in MATCH_MODES:
        if set(rule.modes.get(mode, {})) != traits:  # type: ignore[call-overload]
            raise RuntimeError(f"{_DATA_FILE}: mode {mode} must name the five traits")
    if set(rule.words) != traits or not set(rule.mbti_scales) <= traits:
        raise RuntimeError(f"{_DATA_FILE}: words must name the five traits, mbti_scales some")
    return rule


@dataclass(frozen=True)
class Candidate:
    """A character to rank: its name, how to refer to it (``roleplay chat -c REF``) and its
    personality as far as known."""

    name: str
    ref: str
    big_five: BigFive | None
    mbti: str | None = None
    source: str = ""


@dataclass(frozen=True)
class Match:
    card_name: str
    card_ref: str
    score: float
    """0 (worst) to 1 (best fit)."""
    reason: str
    """One line: why, in words and numbers."""
    source: str = ""


@dataclass(frozen=True)
class MatchReport:
    persona: Persona
    mode: MatchMode
    matches: list[Match]
    notes: list[str] = field(default_factory=list)
    """Cards left out and why; that the persona's Big Five was derived from its MBTI."""
    derived_from_mbti: bool = False


def check_mode(mode: str) -> MatchMode:
    if mode not in MATCH_MODES:
        raise RoleplayError(f"unknown match mode {mode!r} (choose {' or '.join(MATCH_MODES)})")
    return mode  # type: ignore[return-value]


def persona_profile(persona: Persona) -> tuple[BigFive, bool]:
    """The persona's Big Five (and whether it was derived from MBTI), or a one-line error."""
    big_five, derived = persona.personality()
    if big_five is None:
        raise RoleplayError(
            f"persona {persona.name!r} has no Big Five or MBTI; add them with roleplay persona "
            f"edit {_quoted(persona.name)} --big-five O,C,E,A,N (or --mbti TYPE)"
        )
    return big_five, derived


def card_candidates() -> tuple[list[Candidate], list[str]]:
    """The bundled and user cards (a user card hides the bundled one of the same file
    name), and a note for each card left out."""
    from roleplay.cards.registry import list_cards  # parses every card: only when matching

    candidates: list[Candidate] = []
    notes: list[str] = []
    seen: set[str] = set()
    for entry in list_cards():
        slug = entry.slug.casefold()
        if slug in seen:
            continue
        seen.add(slug)
        if entry.card is None:
            problem = " ".join((entry.error or "unreadable").split())
            notes.append(_clip(f"skipped {entry.slug} ({entry.source} card): {problem}"))
            continue
        personality = entry.card.personality
        candidates.append(
            Candidate(
                name=entry.card.name,
                ref=entry.slug,
                big_five=personality.big_five,
                mbti=personality.mbti,
                source=entry.source,
            )
        )
    return candidates, notes


def match_characters(
    persona: Persona,
    *,
    mode: str = "similar",
    limit: int | None = 5,
    candidates: Sequence[Candidate] | None = None,
) -> MatchReport:
    """The characters that suit ``persona`` best, best first (at most ``limit``).
    ``candidates`` defaults to every bundled and user card."""
    chosen = check_mode(mode)
    big_five, derived = persona_profile(persona)
    notes: list[str] = []
    if derived:
        notes.append(f"{persona.name}'s Big Five derived from MBTI {persona.mbti}")
    if candidates is None:
        candidates, skipped = card_candidates()
        notes.extend(skipped)
    matches = rank(big_five, persona.mbti, candidates, chosen, notes=notes)
    if limit is not None:
        matches = matches[: max(limit, 0)]
    return MatchReport(persona, chosen, matches, notes, derived)


def rank(
    big_five: BigFive,
    mbti: str | None,
    candidates: Iterable[Candidate],
    mode: MatchMode,
    *,
    notes: list[str] | None = None,
) -> list[Match]:
    """Every candidate scored against the user's ``big_five``/``mbti``, best first;
    candidates with neither Big Five nor MBTI are left out (with a note in ``notes``)."""
    matches = []
    for candidate in candidates:
        match = score_candidate(big_five, mbti, candidate, mode)
        if match is None:
            if notes is not None:
                notes.append(_clip(f"skipped {candidate.name}: the card has no Big Five or MBTI"))
            continue
        matches.append(match)
    return sorted(matches, key=lambda match: (-match.score, match.card_name.casefold()))


def score_candidate(
    big_five: BigFive, mbti: str | None, candidate: Candidate, mode: MatchMode
) -> Match | None:
    """One candidate's score and reason, or None when its personality is unknown."""
    theirs = candidate.big_five
    if theirs is None:
        if candidate.mbti is None:
            return None
        theirs = big_five_from_mbti(candidate.mbti)
    rule = matching_rule()
    wants = rule.modes[mode]
    yours = big_five.as_dict()
    scores = theirs.as_dict()
    fits = {
        trait: 1.0 - abs(_wanted(wants[trait], yours[trait]) - scores[trait])
        for trait in BIG_FIVE_TRAITS
    }
    score = sum(fits.values()) / len(fits)
    letters = _letter_fit(mbti, candidate.mbti, wants, rule)
    if letters is not None:
        score = (1.0 - rule.mbti_weight) * score + rule.mbti_weight * letters
    reason = _reason(mode, yours, scores, fits, mbti, candidate.mbti, wants, rule)
    return Match(
        card_name=_one_line(candidate.name),
        card_ref=candidate.ref,
        score=round(score, 3),
        reason=reason,
        source=candidate.source,
    )


def _wanted(want: Want, yours: float) -> float:
    if want == "same":
        return yours
    if want == "opposite":
        return 1.0 - yours
    return 1.0 if want == "high" else 0.0


def _wanted_letters(mbti: str, wants: dict[str, Want], rule: MatchingRule) -> list[str]:
    letters = []
    for trait, (high, low) in rule.mbti_scales.items():
        mine = high if high in mbti else low
        want = wants[trait]
        if want == "same":
            letters.append(mine)
        elif want == "opposite":
            letters.append(low if mine == high else high)
        else:
            letters.append(high if want == "high" else low)
    return letters


def _letter_fit(
    yours: str | None, theirs: str | None, wants: dict[str, Want], rule: MatchingRule
) -> float | None:
    if yours is None or theirs is None:
        return None
    wanted = _wanted_letters(yours, wants, rule)
    return sum(1 for letter in wanted if letter in theirs) / len(wanted)


# The one-line reason ---------------------------------------------------------------------


def _word(trait: str, score: float, rule: MatchingRule) -> str | None:
    level = trait_level(score)
    if level == "moderate":
        return None
    words = rule.words[trait]
    return words.high if level == "high" else words.low


def _reason(
    mode: MatchMode,
    yours: dict[str, float],
    theirs: dict[str, float],
    fits: dict[str, float],
    your_mbti: str | None,
    their_mbti: str | None,
    wants: dict[str, Want],
    rule: MatchingRule,
) -> str:
    by_fit = sorted(BIG_FIVE_TRAITS, key=lambda trait: -fits[trait])
    parts: list[str] = []
    if mode == "similar":
        alike = [
            trait
            for trait in by_fit
            if _word(trait, yours[trait], rule) is not None
            and _word(trait, yours[trait], rule) == _word(trait, theirs[trait], rule)
        ][:2]
        if alike:
            described = [
                f"{_word(trait, theirs[trait], rule)} ({_pair(theirs[trait], yours[trait])})"
                for trait in alike
            ]
            parts.append("both " + " and ".join(described))
        else:
            closest = by_fit[:2]
            parts.append(
                "closest on " + " and ".join(f"{t} ({_pair(theirs[t], yours[t])})" for t in closest)
            )
        apart = by_fit[-1]
        if fits[apart] < 0.6:
            parts.append(f"apart on {apart} ({_pair(theirs[apart], yours[apart])})")
    else:
        contrasts = []
        for trait in by_fit:
            want = wants[trait]
            mine, other = _word(trait, yours[trait], rule), _word(trait, theirs[trait], rule)
            if want == "opposite" and mine and other and mine != other:
                contrasts.append(
                    f"{other} where you are {mine} ({_pair(theirs[trait], yours[trait])})"
                )
        parts.extend(contrasts[:2])
        good = [
            f"{word} ({theirs[trait]:.2f})"
            for trait in BIG_FIVE_TRAITS
            if wants[trait] in ("high", "low")
            and (word := _word(trait, theirs[trait], rule)) is not None
            and trait_level(theirs[trait]) == wants[trait]
        ]
        if good:
            parts.append(" and ".join(good))
        bad = [
            f"{word} ({trait} {theirs[trait]:.2f})"
            for trait in BIG_FIVE_TRAITS
            if wants[trait] in ("high", "low")
            and (word := _word(trait, theirs[trait], rule)) is not None
            and trait_level(theirs[trait]) != wants[trait]
        ]
        if bad:
            parts.append("though " + " and ".join(bad))
        if not parts:
            parts.append(
                "nearest the wanted profile on "
                + " and ".join(f"{t} ({_pair(theirs[t], yours[t])})" for t in by_fit[:2])
            )
    mbti_part = _mbti_part(mode, your_mbti, their_mbti, wants, rule)
    if mbti_part:
        parts.append(mbti_part)
    return f"{mode}: " + "; ".join(parts)


def _mbti_part(
    mode: MatchMode,
    yours: str | None,
    theirs: str | None,
    wants: dict[str, Want],
    rule: MatchingRule,
) -> str | None:
    if yours is None or theirs is None:
        return None
    if mode == "similar":
        if yours == theirs:
            return f"same MBTI {theirs}"
        shared = sum(1 for mine, other in zip(yours, theirs, strict=True) if mine == other)
        return f"MBTI {theirs} vs your {yours} ({shared} of 4 letters shared)"
    wanted = _wanted_letters(yours, wants, rule)
    hits = sum(1 for letter in wanted if letter in theirs)
    return f"MBTI {theirs} vs your {yours} ({hits} of 4 letters as wanted)"


def _pair(theirs: float, yours: float) -> str:
    return f"{theirs:.2f}, you {yours:.2f}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _clip(text: str) -> str:
    return text if len(text) <= _NOTE_CHARS else text[: _NOTE_CHARS - 1] + "…"


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)
