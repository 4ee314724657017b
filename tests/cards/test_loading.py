"""Good cards load, lint warnings are located, and the bundled characters are sound."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import pytest

from roleplay.cards.loader import check_card, load_card
from roleplay.cards.registry import bundled_characters_dir
from tests.cards.conftest import VALID_CARD, WriteCard

FULL_CARD = """\
# Every field, in the shapes the docs show.
name: Captain Mira Voss
description: |
  Captain of the Halcyon.
  Runs the ship by checklist.
personality:
  big_five: {openness: 0.45, conscientiousness: 0.85, extraversion: 0.3,
             agreeableness: 0.4, neuroticism: 0.25}
  mbti: istj
  traits: [gruff, protective]
speaking_style: Clipped.
scenario: "{{user}} reports to the bridge."
greeting: You're early, {{user}}.
alternate_greetings: [Walk with me.]
example_dialogues:
  - - {role: user, content: "Can we skip the checklist?"}
    - {role: character, content: "No."}
memories:
  - {text: "Lost two crew on the Perihelion.", emotion: {sadness: 0.9}}
  - text: First command.
attributes: {sentiment: 0.5, formality: -0.3}
tags: [sci-fi]
extensions:
  sillytavern: {depth_prompt: {depth: 4}, talkativeness: "0.5"}
  numbers: [1, 2.5, true, null]
"""


def test_full_card_loads(write_card: WriteCard) -> None:
    card = load_card(write_card(FULL_CARD))
    assert card.name == "Captain Mira Voss"
    assert card.description == "Captain of the Halcyon.\nRuns the ship by checklist.\n"
    assert card.personality.mbti == "ISTJ"
    assert card.personality.big_five.conscientiousness == 0.85
    assert card.example_dialogues[0][1].role == "character"
    assert card.memories[0].emotion == {"sadness": 0.9}
    assert card.memories[1].emotion == {}
    assert card.attributes == {"sentiment": 0.5, "formality": -0.3}


def test_extensions_are_preserved_as_plain_python(write_card: WriteCard) -> None:
    card = load_card(write_card(FULL_CARD))
    assert card.extensions == {
        "sillytavern": {"depth_prompt": {"depth": 4}, "talkativeness": "0.5"},
        "numbers": [1, 2.5, True, None],
    }
    # Plain types, not ruamel's round-trip subclasses, so the card serialises anywhere.
    assert type(card.extensions["sillytavern"]) is dict
    assert type(card.extensions["numbers"][1]) is float
    assert type(card.description) is str
    assert card.model_dump_json()


def test_str_and_path_are_both_accepted(write_card: WriteCard) -> None:
    path = write_card(VALID_CARD)
    assert load_card(str(path)) == load_card(path)


def test_valid_card_has_no_problems(write_card: WriteCard) -> None:
    check = check_card(write_card(VALID_CARD))
    assert check.ok and check.card is not None
    assert check.errors == [] and check.warnings == []


def test_mbti_contradiction_is_a_located_warning(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("extraversion: 0.5", "extraversion: 0.2").replace(
        "  big_five:", "  mbti: ENFP\n  big_five:"
    )
    path = write_card(text)
    check = check_card(path)
    assert check.card is not None and check.errors == []
    [warning] = check.warnings
    assert (warning.line, warning.column) == (4, 9)
    assert warning.message.startswith("personality.mbti: 'E' (extravert) means high extraversion")
    assert load_card(path).personality.mbti == "ENFP"  # warnings never block loading


def test_cards_with_errors_are_not_linted(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("extraversion: 0.5", "extraversion: 0.2").replace(
        "  big_five:", "  mbti: ENFP\n  big_five:"
    )
    check = check_card(write_card(text + "bogus: 1\n"))
    assert check.card is None and check.warnings == []


# --- the bundled characters ---------------------------------------------------------------

BUNDLED = sorted(bundled_characters_dir().glob("*.yaml"))
EXPECTED_SLUGS = {"mira", "sable", "pip", "elias", "hana"}


def test_the_five_bundled_characters_exist() -> None:
    assert {path.stem for path in BUNDLED} == EXPECTED_SLUGS


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_card_is_clean(path: Path) -> None:
    check = check_card(path)
    assert check.errors == []
    assert check.warnings == []


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_card_is_complete(path: Path) -> None:
    card = load_card(path)
    assert card.scenario and card.speaking_style and card.greeting
    assert card.personality.mbti and len(card.personality.traits) >= 3
    assert len(card.alternate_greetings) == 1
    assert card.tags
    assert len(card.description.split()) <= 120
    assert len(card.example_dialogues) == 2
    for dialogue in card.example_dialogues:
        assert 2 <= len(dialogue) <= 4
        roles = [line.role for line in dialogue]
        assert roles == ["user", "character"] * (len(roles) // 2)
    assert 4 <= len(card.memories) <= 6
    assert all(memory.emotion for memory in card.memories)
    emotions = {name for memory in card.memories for name in memory.emotion}
    assert len(emotions) >= 5  # seed memories of different kinds, not all one mood


@pytest.mark.parametrize("path", BUNDLED, ids=lambda path: path.stem)
def test_bundled_card_fits_a_small_prompt(path: Path) -> None:
    card = load_card(path)
    texts = [
        card.description,
        card.speaking_style or "",
        card.scenario or "",
        card.greeting or "",
        *card.alternate_greetings,
        *(line.content for dialogue in card.example_dialogues for line in dialogue),
        *(memory.text for memory in card.memories),
    ]
    words = sum(len(text.split()) for text in texts)
    assert words <= 450  # roughly 600 tokens


def test_mira_has_the_documented_profile() -> None:
    card = load_card(bundled_characters_dir() / "mira.yaml")
    assert card.name == "Captain Mira Voss"
    assert card.personality.mbti == "ISTJ"
    assert card.personality.big_five.as_dict() == {
        "openness": 0.45,
        "conscientiousness": 0.85,
        "extraversion": 0.3,
        "agreeableness": 0.4,
        "neuroticism": 0.25,
    }


def test_bundled_profiles_are_distinct() -> None:
    profiles = {path.stem: load_card(path).personality.big_five for path in BUNDLED}
    assert profiles["sable"].agreeableness <= 0.15
    assert profiles["sable"].extraversion <= 0.3 and profiles["sable"].neuroticism <= 0.3
    assert profiles["pip"].extraversion >= 0.9
    assert profiles["pip"].openness >= 0.7 and profiles["pip"].agreeableness >= 0.7
    assert profiles["elias"].neuroticism >= 0.85 and profiles["elias"].extraversion <= 0.3
    assert profiles["hana"].agreeableness >= 0.85 and profiles["hana"].neuroticism <= 0.15
    for (first, a), (second, b) in itertools.combinations(profiles.items(), 2):
        distance = math.dist(a.as_dict().values(), b.as_dict().values())
        assert distance >= 0.4, f"{first} and {second} are too alike ({distance:.2f})"
