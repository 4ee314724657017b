"""What a reader takes away: one plain line per character, and which traits a method can
measure at all on this model.

- **Verdict**: per character, the counted traits that hold (on the card's side in at least
  95 % of the item resamples), those that probably hold, and those that do not, with the
  estimate against the card for the last.
- **Trait signal**: a trait whose estimates barely differ between characters (spread below
  0.02) is *flat*, one whose estimates run against the cards (correlation <= 0 over the
  characters) is *inverted*: either way the method cannot measure it on this model, and its
  Acc(Dim) says more about how the cards fall around 0.5 than about the character. Reported
  as such instead of averaged away.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.persona import MethodResult

FIRM = 0.95  # share of item resamples on the card's side for "holds"
FLAT_SPREAD = 0.02  # standard deviation of a trait's estimates across characters


@dataclass(frozen=True)
class TraitSignal:
    trait: str
    spread: float  # standard deviation of the estimates across characters
    correlation: float | None  # Pearson, estimates vs cards (None: too few or constant cards)
    status: str  # "ok", "flat", "inverted" or "unknown" (fewer than three characters)


def trait_signals(result: MethodResult) -> dict[str, TraitSignal]:
    signals = {}
    for trait in BIG_FIVE_TRAITS:
        estimates = [c.traits[trait].estimate for c in result.characters]
        cards = [c.traits[trait].card for c in result.characters]
        if len(estimates) < 3:
            signals[trait] = TraitSignal(trait, 0.0, None, "unknown")
            continue
        spread = statistics.pstdev(estimates)
        correlation = None
        if statistics.pstdev(cards) > 0 and spread > 0:
            correlation = statistics.correlation(estimates, cards)
        if spread < FLAT_SPREAD:
            status = "flat"
        elif correlation is not None and correlation <= 0:
            status = "inverted"
        else:
            status = "ok"
        signals[trait] = TraitSignal(trait, spread, correlation, status)
    return signals


def unmeasurable(result: MethodResult) -> str | None:
    """One line naming the traits the method cannot measure on this model (None: none)."""
    reasons = []
    for signal in trait_signals(result).values():
        if signal.status == "flat":
            reasons.append(f"{signal.trait} (flat: s.d. {signal.spread:.3f} across characters)")
        elif signal.status == "inverted":
            reasons.append(f"{signal.trait} (inverted: r = {signal.correlation:+.2f})")
    if not reasons:
        return None
    return "not measurable by this method on this model: " + ", ".join(reasons)


def verdict_lines(result: MethodResult) -> list[str]:
    """One line per character: which traits hold, probably hold, or do not."""
    holds = result.intervals.holds if result.intervals else {}
    lines = []
    for fidelity in result.characters:
        firm, likely, broken = [], [], []
        for trait in BIG_FIVE_TRAITS:
            comparison = fidelity.traits[trait]
            if not comparison.counted:
                continue
            share = holds.get(fidelity.character, {}).get(trait)
            label = trait.capitalize()
            if comparison.correct and (share is None or share >= FIRM):
                firm.append(label)
            elif comparison.correct:
                likely.append(f"{label} ({share:.0%})")
            else:
                broken.append(
                    f"{label} (measured {comparison.estimate:.2f}, card {comparison.card:.2f})"
                )
        parts = []
        if firm:
            parts.append("holds " + ", ".join(firm))
        if likely:
            parts.append("probably " + ", ".join(likely))
        if broken:
            parts.append("does not hold " + ", ".join(broken))
        lines.append(f"{fidelity.character}: {'; '.join(parts) or 'no trait far enough from 0.5'}")
    return lines
