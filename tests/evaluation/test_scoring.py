"""Scoring on hand-made numbers: every expected value below is worked out by hand."""

from __future__ import annotations

import math

import pytest

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.questionnaire import load_questionnaire
from roleplay.evaluation.scoring import (
    centre_across_characters,
    expected_answer,
    keyed_answer,
    likelihood_trait_raw,
    likert_trait_scores,
    to_unit_interval,
)


def test_expected_answer_is_the_renormalised_mean_option() -> None:
    assert expected_answer([0, 0, 1, 0, 0]) == 3
    assert expected_answer([0.5, 0, 0, 0, 0.5]) == 3
    # Mass outside the options does not count: 0.1 on "1" and 0.3 on "5" -> (0.1 + 1.5) / 0.4
    assert expected_answer([0.1, 0, 0, 0, 0.3]) == pytest.approx(4.0)
    with pytest.raises(ValueError):
        expected_answer([0, 0, 0, 0, 0])


def test_reverse_keyed_answers_are_flipped() -> None:
    items = load_questionnaire().items
    forward, reverse = items[0], items[5]  # "Am the life of the party" (+), "Don't talk a lot" (-)
    assert (forward.keyed, reverse.keyed) == (1, -1)
    assert keyed_answer(5, forward) == 5
    assert keyed_answer(5, reverse) == 1
    assert keyed_answer(2.5, reverse) == 3.5
    with pytest.raises(ValueError):
        keyed_answer(6, forward)


def test_likert_trait_scores_on_hand_made_answers() -> None:
    questionnaire = load_questionnaire()
    # Agree fully with every item: forward items give 5, reverse-keyed ones 1.
    answers = {item.id: 5.0 for item in questionnaire.items}
    scores = likert_trait_scores(answers, questionnaire)
    for trait in BIG_FIVE_TRAITS:
        items = questionnaire.items_for(trait)
        forward = sum(1 for item in items if item.keyed == 1)
        expected_mean = (5 * forward + 1 * (10 - forward)) / 10
        assert scores[trait] == pytest.approx((expected_mean - 1) / 4)
    # Extraversion has 5 forward and 5 reverse items: acquiescence lands exactly mid-scale.
    assert scores["extraversion"] == pytest.approx(0.5)
    # A perfectly extraverted answer pattern scores 1.0, the opposite 0.0.
    high = {item.id: (5.0 if item.keyed == 1 else 1.0) for item in questionnaire.items}
    low = {item.id: (1.0 if item.keyed == 1 else 5.0) for item in questionnaire.items}
    assert likert_trait_scores(high, questionnaire)["extraversion"] == 1.0
    assert likert_trait_scores(low, questionnaire)["extraversion"] == 0.0


def test_likelihood_raw_flips_reverse_keyed_items() -> None:
    questionnaire = load_questionnaire()
    # +1 nat on every forward item and +1 on every reverse item of extraversion:
    # 5 * (+1) + 5 * (-1) = 0 on average.
    differences = {item.id: 1.0 for item in questionnaire.items}
    assert likelihood_trait_raw(differences, questionnaire)["extraversion"] == 0.0
    differences = {item.id: (2.0 if item.keyed == 1 else -2.0) for item in questionnaire.items}
    assert likelihood_trait_raw(differences, questionnaire)["neuroticism"] == 2.0


def test_centring_subtracts_the_per_trait_mean_across_characters() -> None:
    base = dict.fromkeys(BIG_FIVE_TRAITS, 0.0)
    raw = {"a": {**base, "openness": 1.0}, "b": {**base, "openness": 3.0}}
    centred = centre_across_characters(raw)
    assert centred["a"]["openness"] == -1.0
    assert centred["b"]["openness"] == 1.0
    assert centred["a"]["neuroticism"] == 0.0
    # One character: nothing to centre against.
    assert centre_across_characters({"a": raw["a"]}) == {"a": raw["a"]}


def test_unit_interval_mapping() -> None:
    assert to_unit_interval(0.0, 0.5) == 0.5
    assert to_unit_interval(0.5, 0.5) == pytest.approx(1 / (1 + math.exp(-1)))
    assert to_unit_interval(-0.5, 0.5) == pytest.approx(1 - 1 / (1 + math.exp(-1)))
