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
- **Confounded trait**: a trait whose estimates follow another trait of the cards more
  closely than the trait's own card scores (on the default model with steering, neuroticism
  follows the cards' low agreeableness: a kind, anxious character is read as calm). Its
  Acc(Dim) then depends on how the two traits fall together on the cards evaluated, so it
  is named. Judged only on enough characters whose cards tell the two traits apart.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.persona import MethodResult

FIRM = 0.95  # share of item resamples on the card's side for "holds"
FLAT_SPREAD = 0.02  # standard deviation of a trait's estimates across characters
# Below this many characters a correlation between traits is noise (the bundled set has 5).
CONFOUND_MIN_CHARACTERS = 8
# Two card traits correlated beyond this across the characters cannot be told apart by them.
CARDS_APART = 0.5


@dataclass(frozen=True)
class TraitSignal:
    trait: str
    spread: float  # standard deviation of the estimates across characters
    correlation: float | None  # Pearson, estimates vs cards (None: too few or constant cards)
    # "ok", "flat", "inverted", "confounded" or "unknown" (fewer than three characters)
    status: str
    follows: str | None = None  # confounded: the other card trait the estimates follow
    follows_correlation: float | None = None  # Pearson, estimates vs that trait's card scores


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
        elif correlation is not None and (rival := _rival_trait(result, trait, correlation)):
            signals[trait] = TraitSignal(trait, spread, correlation, "confounded", *rival)
            continue
        else:
            status = "ok"
        signals[trait] = TraitSignal(trait, spread, correlation, status)
    return signals


def _rival_trait(result: MethodResult, trait: str, own: float) -> tuple[str, float] | None:
    """The other card trait the estimates of ``trait`` follow more closely (in absolute
    correlation) than ``own``, their correlation with the trait's own card scores; None if
    there is none, or too few characters to say."""
    if len(result.characters) < CONFOUND_MIN_CHARACTERS:
        return None
    estimates = [c.traits[trait].estimate for c in result.characters]
    own_cards = [c.traits[trait].card for c in result.characters]
    best: tuple[str, float] | None = None
    for other in BIG_FIVE_TRAITS:
        if other == trait:
            continue
        cards = [c.traits[other].card for c in result.characters]
        if statistics.pstdev(cards) == 0:
            continue
        if abs(statistics.correlation(own_cards, cards)) > CARDS_APART:
            continue  # these cards do not tell the two traits apart
        rival = statistics.correlation(estimates, cards)
        if abs(rival) > abs(own) and (best is None or abs(rival) > abs(best[1])):
            best = (other, rival)
    return best


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


def confounded(result: MethodResult) -> str | None:
    """One line naming the traits whose estimates follow another card trait more closely
    than their own (None: none)."""
    reasons = [
        f"{s.trait} follows the cards' {s.follows} (r = {s.follows_correlation:+.2f}) more "
        f"than their {s.trait} (r = {s.correlation:+.2f})"
        for s in trait_signals(result).values()
        if s.status == "confounded"
        and s.correlation is not None
        and s.follows_correlation is not None
    ]
    if not reasons:
        return None
    return (
        "confounded on these cards: "
        + "; ".join(reasons)
        + " (such a trait's Acc(Dim) depends on how the two fall together on the cards)"
    )


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
