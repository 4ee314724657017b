"""From item answers to trait scores on 0..1: reverse keying, Likert means, likelihood centring.

Pure functions over numbers, so each step can be checked exactly on hand-made values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.questionnaire import Item, Questionnaire


def expected_answer(probabilities: Sequence[float]) -> float:
    """The expected option value (1..k) of a distribution over the k options, renormalised.

    The model's probability mass outside the options is ignored: what is measured is the
    model's preference among the answers, not how likely it was to answer with a digit.
    """
    total = float(sum(probabilities))
    if total <= 0 or not math.isfinite(total):
        raise ValueError("the options have no probability mass")
    return sum((index + 1) * p for index, p in enumerate(probabilities)) / total


def keyed_answer(answer: float, item: Item, option_count: int = 5) -> float:
    """The answer as agreement with the trait: reverse-keyed items count ``(k + 1) - answer``."""
    if not 1 <= answer <= option_count:
        raise ValueError(f"answer {answer} is outside 1..{option_count}")
    return answer if item.keyed == 1 else (option_count + 1) - answer


def likert_trait_scores(
    answers: Mapping[int, float], questionnaire: Questionnaire, option_count: int = 5
) -> dict[str, float]:
    """Trait scores on 0..1 from answers on 1..k keyed by item id (every item answered).

    A trait's score is the mean keyed answer mapped linearly: 1 -> 0.0, k -> 1.0.
    """
    scores: dict[str, float] = {}
    for trait in BIG_FIVE_TRAITS:
        items = questionnaire.items_for(trait)
        keyed = [keyed_answer(answers[item.id], item, option_count) for item in items]
        scores[trait] = (sum(keyed) / len(keyed) - 1) / (option_count - 1)
    return scores


def likelihood_trait_raw(
    differences: Mapping[int, float], questionnaire: Questionnaire
) -> dict[str, float]:
    """Per trait, the mean keyed log-likelihood difference (character minus neutral).

    A positive difference on a reverse-keyed item ("I keep in the background") is evidence
    against the trait, so its sign is flipped before averaging.
    """
    raw: dict[str, float] = {}
    for trait in BIG_FIVE_TRAITS:
        items = questionnaire.items_for(trait)
        raw[trait] = sum(item.keyed * differences[item.id] for item in items) / len(items)
    return raw


def centre_across_characters(
    raw: Mapping[str, Mapping[str, float]],
) -> dict[str, dict[str, float]]:
    """Subtract, per trait, the mean over the characters evaluated together.

    What a small model finds likely to say varies by item far more than by character; the
    neutral role-player removes part of that, centring removes the rest (it assumes the
    characters evaluated together are, on average, mid-scale on each trait). With one
    character there is nothing to centre against, so its values are returned unchanged.
    """
    if len(raw) < 2:
        return {name: dict(values) for name, values in raw.items()}
    means = {
        trait: sum(values[trait] for values in raw.values()) / len(raw) for trait in BIG_FIVE_TRAITS
    }
    return {
        name: {trait: values[trait] - means[trait] for trait in BIG_FIVE_TRAITS}
        for name, values in raw.items()
    }


# Card scores of 0 or 1 have an infinite logit; the reference offset treats them as 0.05 / 0.95.
_CARD_CLIP = 0.05


def card_logit(score: float) -> float:
    """The log-odds of a card score, clipped to 0.05..0.95 so that extremes stay finite."""
    clipped = min(max(score, _CARD_CLIP), 1.0 - _CARD_CLIP)
    return math.log(clipped / (1.0 - clipped))


def reference_offsets(
    raw: Mapping[str, Mapping[str, float]],
    cards: Mapping[str, Mapping[str, float]],
    scale: float,
) -> dict[str, float]:
    """Per trait, the raw likelihood value that reads as 0.5, calibrated on a reference panel.

    The offset is chosen so that the panel's estimates match its cards on average in log-odds:
    ``offset = mean over the panel of (raw - scale * logit(card))``. Scores of other
    characters are then ``to_unit_interval(raw - offset, scale)``, which does not depend on
    which characters are evaluated together (centring across the evaluated set did, and it
    assumed that set to be mid-scale on average).
    """
    names = list(raw)
    if not names:
        raise ValueError("the reference panel is empty")
    return {
        trait: sum(raw[name][trait] - scale * card_logit(cards[name][trait]) for name in names)
        / len(names)
        for trait in BIG_FIVE_TRAITS
    }


def to_unit_interval(value: float, scale: float) -> float:
    """A signed likelihood score as 0..1: ``1 / (1 + exp(-value / scale))`` (0 -> 0.5)."""
    return 1.0 / (1.0 + math.exp(-value / scale))
