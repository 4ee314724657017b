"""The frozen evaluation set: unchanged since it was written, balanced, apart from tuning."""

from __future__ import annotations

import hashlib
from itertools import combinations

from roleplay.cards.loader import load_card
from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.characters import (
    EVALUATION_CHARACTERS_DIR,
    bundled_character_paths,
    card_set_paths,
    evaluation_character_paths,
)
from roleplay.evaluation.questionnaire import load_interview_settings


def _manifest() -> dict[str, str]:
    lines = (EVALUATION_CHARACTERS_DIR / "FROZEN.sha256").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_the_evaluation_cards_are_the_frozen_ones() -> None:
    manifest = _manifest()
    paths = evaluation_character_paths()
    assert sorted(path.name for path in paths) == sorted(manifest), "cards added or removed"
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == manifest[path.name], (
            f"{path.name} changed: the evaluation set is frozen (see README.md beside it); "
            "write a new set instead of editing this one"
        )


def test_every_trait_is_high_on_half_the_set_and_every_pair_counts() -> None:
    cards = [
        load_card(path).personality.big_five.as_dict() for path in card_set_paths("evaluation")
    ]
    accuracy = load_interview_settings().accuracy
    for trait in BIG_FIVE_TRAITS:
        scores = [card[trait] for card in cards]
        assert sum(score > 0.5 for score in scores) == len(cards) // 2, trait
        assert all(abs(score - accuracy.midpoint) >= 0.2 for score in scores), trait
    # No trait can be read off another: any two agree on 4 or 6 of the 10 characters.
    for first, second in combinations(BIG_FIVE_TRAITS, 2):
        agree = sum((card[first] > 0.5) == (card[second] > 0.5) for card in cards)
        assert agree in (4, 6), (first, second, agree)


def test_the_evaluation_set_shares_no_character_with_the_tuning_set() -> None:
    evaluation = {load_card(path).name for path in evaluation_character_paths()}
    tuning = {load_card(path).name for path in bundled_character_paths()}
    assert len(evaluation) == 10
    assert not evaluation & tuning
