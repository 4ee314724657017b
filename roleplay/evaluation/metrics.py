"""Fidelity metrics: per-trait absolute error, MAE, and InCharacter's Acc(Dim) and Acc(Full).

- absolute error: ``|estimate - card|`` per trait, on 0..1; MAE is its mean over the five.
- Acc(Dim): share of (character, trait) pairs whose estimate falls on the card's side of the
  midpoint (0.5). Card scores within the exclusion margin of the midpoint (default
  ``|score - 0.5| < 0.1``) have no clear side and are not counted; an estimate exactly at
  the midpoint has no side either and counts as wrong.
- Acc(Full): share of characters whose counted traits are all on the right side
  (characters with no counted trait are left out).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.questionnaire import AccuracySettings

# Card scores are written with two decimals; 0.4 - 0.5 is -0.09999999999999998 in floating
# point, and a card at 0.4 must count as "low" with a 0.1 margin.
_TOLERANCE = 1e-9


@dataclass(frozen=True)
class TraitComparison:
    trait: str
    card: float
    estimate: float
    counted: bool  # False when the card score is too close to the midpoint to have a side
    correct: bool | None  # None when not counted

    @property
    def abs_error(self) -> float:
        return abs(self.estimate - self.card)


@dataclass(frozen=True)
class CharacterFidelity:
    character: str
    traits: dict[str, TraitComparison]

    @property
    def mae(self) -> float:
        return sum(t.abs_error for t in self.traits.values()) / len(self.traits)

    @property
    def counted(self) -> int:
        return sum(t.counted for t in self.traits.values())

    @property
    def correct(self) -> int:
        return sum(bool(t.correct) for t in self.traits.values())

    @property
    def acc_dim(self) -> float | None:
        return self.correct / self.counted if self.counted else None

    @property
    def full(self) -> bool | None:
        """All counted traits right (None when no trait is counted)."""
        return self.correct == self.counted if self.counted else None


@dataclass(frozen=True)
class OverallFidelity:
    characters: int
    mae: float  # mean of the characters' MAE
    acc_dim: float | None  # pooled over every counted (character, trait) pair
    acc_full: float | None
    counted_dims: int
    trait_mae: dict[str, float]
    trait_acc: dict[str, float | None]


def has_side(card_score: float, settings: AccuracySettings) -> bool:
    return abs(card_score - settings.midpoint) >= settings.exclusion_margin - _TOLERANCE


def same_side(card_score: float, estimate: float, midpoint: float) -> bool:
    if estimate == midpoint:
        return False
    return (card_score > midpoint) == (estimate > midpoint)


def compare_traits(
    character: str,
    card: Mapping[str, float],
    estimate: Mapping[str, float],
    settings: AccuracySettings,
) -> CharacterFidelity:
    comparisons = {}
    for trait in BIG_FIVE_TRAITS:
        counted = has_side(card[trait], settings)
        correct = same_side(card[trait], estimate[trait], settings.midpoint) if counted else None
        comparisons[trait] = TraitComparison(
            trait, float(card[trait]), float(estimate[trait]), counted, correct
        )
    return CharacterFidelity(character, comparisons)


def summarise(results: Sequence[CharacterFidelity]) -> OverallFidelity:
    if not results:
        raise ValueError("no characters to summarise")
    counted = sum(r.counted for r in results)
    correct = sum(r.correct for r in results)
    fulls = [r.full for r in results if r.full is not None]
    trait_acc: dict[str, float | None] = {}
    for trait in BIG_FIVE_TRAITS:
        marks = [r.traits[trait].correct for r in results if r.traits[trait].counted]
        trait_acc[trait] = sum(bool(m) for m in marks) / len(marks) if marks else None
    return OverallFidelity(
        characters=len(results),
        mae=sum(r.mae for r in results) / len(results),
        acc_dim=correct / counted if counted else None,
        acc_full=sum(fulls) / len(fulls) if fulls else None,
        counted_dims=counted,
        trait_mae={
            trait: sum(r.traits[trait].abs_error for r in results) / len(results)
            for trait in BIG_FIVE_TRAITS
        },
        trait_acc=trait_acc,
    )
