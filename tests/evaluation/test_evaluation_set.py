"""The frozen card sets (evaluation, confirmation, replication, and the fitting set the
cross-talk is fitted on): unchanged since they were written, balanced, apart from tuning and
from each other."""

from __future__ import annotations

import hashlib
from itertools import combinations
from pathlib import Path

import pytest

from roleplay.cards.loader import load_card
from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.characters import (
    CARD_SETS,
    FITTING_CHARACTERS_DIR,
    FITTING_SET,
    FROZEN_CARD_SET_DIRS,
    bundled_character_paths,
    card_set_paths,
)
from roleplay.evaluation.questionnaire import load_interview_settings

FROZEN_SETS = sorted(FROZEN_CARD_SET_DIRS)


def _manifest(folder: Path) -> dict[str, str]:
    lines = (folder / "FROZEN.sha256").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


def test_the_frozen_sets_are_card_sets() -> None:
    assert set(FROZEN_SETS) == {"evaluation", "confirmation", "replication"}
    assert set(FROZEN_SETS) < set(CARD_SETS)


@pytest.mark.parametrize("card_set", FROZEN_SETS)
def test_the_cards_are_the_frozen_ones(card_set: str) -> None:
    manifest = _manifest(FROZEN_CARD_SET_DIRS[card_set])
    paths = card_set_paths(card_set)
    assert sorted(path.name for path in paths) == sorted(manifest), "cards added or removed"
    for path in paths:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert digest == manifest[path.name], (
            f"{path.name} changed: the {card_set} set is frozen (see README.md beside it); "
            "write a new set instead of editing this one"
        )


@pytest.mark.parametrize("card_set", FROZEN_SETS)
def test_every_trait_is_high_on_half_the_set_and_every_pair_counts(card_set: str) -> None:
    cards = [load_card(path).personality.big_five.as_dict() for path in card_set_paths(card_set)]
    accuracy = load_interview_settings().accuracy
    for trait in BIG_FIVE_TRAITS:
        scores = [card[trait] for card in cards]
        assert sum(score > 0.5 for score in scores) == len(cards) // 2, trait
        assert all(abs(score - accuracy.midpoint) >= 0.2 for score in scores), trait
    # No trait can be read off another: any two agree on 4 or 6 of the 10 characters.
    for first, second in combinations(BIG_FIVE_TRAITS, 2):
        agree = sum((card[first] > 0.5) == (card[second] > 0.5) for card in cards)
        assert agree in (4, 6), (first, second, agree)


def test_the_sets_share_no_character_and_no_profile() -> None:
    names = {
        card_set: {load_card(path).name for path in card_set_paths(card_set)}
        for card_set in CARD_SETS
    }
    assert len(names["evaluation"]) == len(names["confirmation"]) == 10
    assert len(names["replication"]) == 10
    for first, second in combinations(CARD_SETS, 2):
        assert not names[first] & names[second], (first, second)

    def profiles(card_set: str) -> set[tuple[bool, ...]]:
        return {
            tuple(score > 0.5 for score in load_card(path).personality.big_five.as_dict().values())
            for path in card_set_paths(card_set)
        }

    # The confirmation set adds profiles instead of repeating the evaluation set's.
    assert not profiles("evaluation") & profiles("confirmation")
    # The replication set adds the three pairs of profiles that fit the balance; the other two
    # pairs repeat evaluation-set profiles (no five unused pairs fit it: README.md there).
    assert len(profiles("replication")) == 10
    assert not profiles("replication") & profiles("confirmation")
    assert len(profiles("replication") & profiles("evaluation")) == 4


def test_the_bundled_set_is_the_tuning_set() -> None:
    assert card_set_paths("bundled") == bundled_character_paths()


def test_the_fitting_set_is_frozen_balanced_and_apart_from_every_card_set() -> None:
    """The sixteen cards the cross-talk is fitted on: a 2^(5-1) design (each trait high on
    eight, any two traits agreeing on exactly eight, so no slope of the fit leans on another),
    unchanged since the fit, and sharing no character with a set fidelity is reported on."""
    manifest = _manifest(FITTING_CHARACTERS_DIR)
    paths = card_set_paths(FITTING_SET)
    assert sorted(path.name for path in paths) == sorted(manifest), "cards added or removed"
    for path in paths:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == manifest[path.name], (
            f"{path.name} changed: the fitting set is frozen (see README.md beside it)"
        )
    cards = [load_card(path) for path in paths]
    profiles = [card.personality.big_five.as_dict() for card in cards]
    assert len({tuple(p[t] > 0.5 for t in BIG_FIVE_TRAITS) for p in profiles}) == 16
    for trait in BIG_FIVE_TRAITS:
        assert sum(p[trait] > 0.5 for p in profiles) == 8, trait
        assert all(abs(p[trait] - 0.5) >= 0.3 for p in profiles), trait
    for first, second in combinations(BIG_FIVE_TRAITS, 2):
        agree = sum((p[first] > 0.5) == (p[second] > 0.5) for p in profiles)
        assert agree == 8, (first, second, agree)
    others = {load_card(path).name for card_set in CARD_SETS for path in card_set_paths(card_set)}
    assert not {card.name for card in cards} & others
