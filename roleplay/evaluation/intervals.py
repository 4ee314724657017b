"""Bootstrap intervals for Acc(Dim), MAE and per-trait accuracy, over items and characters.

A fidelity figure has two sources of chance: which characters were evaluated and which
questionnaire items were asked. Each resample draws the characters with replacement and,
independently, each trait's items with replacement (the same items for every character of
the resample, as in the real interview); the estimates are recomputed from the item-level
responses exactly as ``persona.estimates_for`` computes them, including the likelihood
method's reference offset, which is recalibrated on the resampled items. The interval is
the percentile interval of the resampled figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.interview import ItemResponses
from roleplay.evaluation.metrics import has_side
from roleplay.evaluation.plan import Method
from roleplay.evaluation.questionnaire import InterviewSettings, Questionnaire
from roleplay.evaluation.scoring import card_logit, expected_answer, keyed_answer

Bounds = tuple[float, float]

DEFAULT_RESAMPLES = 2000
CONFIDENCE = 0.95


@dataclass(frozen=True)
class FidelityIntervals:
    acc_dim: Bounds | None  # None when no (character, trait) pair is counted
    mae: Bounds
    trait_acc: dict[str, Bounds | None]
    resamples: int
    confidence: float
    characters: int
    items: int
    # Per character and counted trait: the share of item resamples (the character fixed) whose
    # estimate falls on the card's side; how firmly the trait holds for that character.
    holds: dict[str, dict[str, float]]


@dataclass(frozen=True)
class LikelihoodPanel:
    """The reference panel's item-level likelihood values and cards (likelihood method)."""

    responses: Mapping[str, ItemResponses]
    cards: Mapping[str, Mapping[str, float]]


def item_values(
    method: Method, responses: ItemResponses, questionnaire: Questionnaire, options: int
) -> dict[int, float]:
    """Per item, the keyed value whose mean over a trait's items gives the trait's raw score."""
    if method is Method.EXPECTED_LIKERT:
        return {
            item.id: keyed_answer(
                expected_answer(responses.option_probabilities[item.id]), item, options
            )
            for item in questionnaire.items
        }
    if method is Method.GRAMMAR:
        return {
            item.id: keyed_answer(float(responses.grammar_answers[item.id]), item, options)
            for item in questionnaire.items
        }
    differences = responses.likelihood_differences
    return {item.id: item.keyed * differences[item.id] for item in questionnaire.items}


def _matrix(
    method: Method,
    responses: Mapping[str, ItemResponses],
    questionnaire: Questionnaire,
    options: int,
) -> np.ndarray:
    rows = []
    for name in responses:
        values = item_values(method, responses[name], questionnaire, options)
        rows.append([values[item.id] for item in questionnaire.items])
    return np.asarray(rows, dtype=np.float64)


def _trait_columns(questionnaire: Questionnaire) -> list[np.ndarray]:
    return [
        np.asarray([i for i, item in enumerate(questionnaire.items) if item.trait == trait])
        for trait in BIG_FIVE_TRAITS
    ]


def _unit_scores(
    method: Method,
    trait_means: np.ndarray,
    offsets: np.ndarray | None,
    settings: InterviewSettings,
) -> np.ndarray:
    if method is Method.LIKELIHOOD:
        assert offsets is not None
        scale = settings.likelihood.scale
        return np.asarray(1.0 / (1.0 + np.exp(-(trait_means - offsets) / scale)))
    options = len(settings.likert.options)
    return np.asarray((trait_means - 1.0) / (options - 1))


def fidelity_intervals(
    method: Method,
    responses: Mapping[str, ItemResponses],
    cards: Mapping[str, Mapping[str, float]],
    questionnaire: Questionnaire,
    settings: InterviewSettings,
    *,
    panel: LikelihoodPanel | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = CONFIDENCE,
    seed: int = 0,
) -> FidelityIntervals:
    """Percentile intervals of Acc(Dim), MAE and per-trait Acc(Dim) (see the module text)."""
    if method is Method.LIKELIHOOD and panel is None:
        raise ValueError("the likelihood method needs the reference panel")
    names = list(responses)
    options = len(settings.likert.options)
    values = _matrix(method, responses, questionnaire, options)
    card = np.asarray([[cards[name][t] for t in BIG_FIVE_TRAITS] for name in names])
    counted = np.vectorize(lambda score: has_side(float(score), settings.accuracy))(card)
    midpoint = settings.accuracy.midpoint
    columns = _trait_columns(questionnaire)
    panel_values: np.ndarray | None = None
    panel_logits: np.ndarray | None = None
    if panel is not None and method is Method.LIKELIHOOD:
        panel_values = _matrix(method, panel.responses, questionnaire, options)
        panel_logits = np.asarray(
            [
                np.mean([card_logit(panel.cards[name][t]) for name in panel.responses])
                for t in BIG_FIVE_TRAITS
            ]
        )
    rng = np.random.default_rng(seed)
    acc: list[float] = []
    mae: list[float] = []
    per_trait: list[list[float]] = [[] for _ in BIG_FIVE_TRAITS]
    held = np.zeros_like(card)
    for _ in range(resamples):
        people = rng.integers(0, len(names), size=len(names))
        picks = [column[rng.integers(0, len(column), size=len(column))] for column in columns]
        means = np.stack([values[people][:, pick].mean(axis=1) for pick in picks], axis=1)
        offsets = None
        if panel_values is not None and panel_logits is not None:
            panel_means = np.asarray([panel_values[:, pick].mean() for pick in picks])
            offsets = panel_means - settings.likelihood.scale * panel_logits
        estimates = _unit_scores(method, means, offsets, settings)
        # The same items for everyone, nobody resampled: per-character confidence.
        own = _unit_scores(
            method,
            np.stack([values[:, pick].mean(axis=1) for pick in picks], axis=1),
            offsets,
            settings,
        )
        held += (own != midpoint) & ((own > midpoint) == (card > midpoint))
        chosen_cards, chosen_counted = card[people], counted[people]
        correct = (estimates != midpoint) & ((estimates > midpoint) == (chosen_cards > midpoint))
        mae.append(float(np.abs(estimates - chosen_cards).mean()))
        if chosen_counted.any():
            acc.append(float((correct & chosen_counted).sum() / chosen_counted.sum()))
        for index in range(len(BIG_FIVE_TRAITS)):
            mask = chosen_counted[:, index]
            if mask.any():
                per_trait[index].append(float(correct[mask, index].mean()))
    return FidelityIntervals(
        acc_dim=_percentile(acc, confidence),
        mae=_percentile(mae, confidence) or (float("nan"), float("nan")),
        trait_acc={
            trait: _percentile(per_trait[i], confidence) for i, trait in enumerate(BIG_FIVE_TRAITS)
        },
        resamples=resamples,
        confidence=confidence,
        characters=len(names),
        items=len(questionnaire.items),
        holds={
            name: {
                trait: float(held[row, column] / resamples)
                for column, trait in enumerate(BIG_FIVE_TRAITS)
                if counted[row, column]
            }
            for row, name in enumerate(names)
        },
    )


def _percentile(draws: Sequence[float], confidence: float) -> Bounds | None:
    if not draws:
        return None
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(np.asarray(draws), [tail, 1.0 - tail])
    return float(low), float(high)
