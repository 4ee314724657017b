"""The pieces behind ``roleplay card new``: a short Big Five questionnaire and the draft card.

The questionnaire takes two items per trait from the IPIP 50-item Big-Five markers
(Goldberg, 1992; public domain, ``data/ipip50.yaml``): for each trait the first item keyed
towards the trait and the first reverse-keyed one, asked in the inventory's order. Answers
run 1 (very inaccurate) to 5 (very accurate); a reverse-keyed answer counts as ``6 - answer``
and a trait's score is its mean mapped from 1..5 onto 0..1. Two items per trait is a rough
sketch (the full 50 items are more reliable), which suits a first draft of a character.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from roleplay.cards.model import BIG_FIVE_TRAITS, BigFive, Card
from roleplay.cards.yaml_writer import card_to_yaml
from roleplay.resources import package_path

_DATA_FILE = package_path("roleplay.cards", "data", "ipip50.yaml")
_TRAIT_LETTERS = {
    "O": "openness",
    "C": "conscientiousness",
    "E": "extraversion",
    "A": "agreeableness",
    "N": "neuroticism",
}
ANSWER_SCALE = (
    "1 very inaccurate, 2 moderately inaccurate, 3 neither, 4 moderately accurate, 5 very accurate"
)
PersonalitySource = Literal["numbers", "mbti", "questionnaire"]
DESCRIPTION_PLACEHOLDER = "TODO: who {{char}} is, in the third person."


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    trait: Literal["O", "C", "E", "A", "N"]
    keyed: Literal[1, -1]
    text: str = Field(min_length=1)


class _Inventory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[_Item]


@dataclass(frozen=True)
class Question:
    trait: str
    reverse: bool
    text: str


@cache
def questionnaire() -> tuple[Question, ...]:
    """Ten questions: one forward- and one reverse-keyed IPIP item per trait."""
    inventory = _Inventory.model_validate(YAML(typ="safe", pure=True).load(_DATA_FILE))
    chosen: list[_Item] = []
    for letter in _TRAIT_LETTERS:
        for keyed in (1, -1):
            item = next(
                (i for i in inventory.items if i.trait == letter and i.keyed == keyed), None
            )
            if item is None:  # a broken data file is a packaging bug
                raise RuntimeError(f"{_DATA_FILE} lacks a {keyed:+d} item for trait {letter}")
            chosen.append(item)
    chosen.sort(key=lambda item: item.id)
    return tuple(
        Question(_TRAIT_LETTERS[item.trait], item.keyed == -1, item.text) for item in chosen
    )


def score_answers(questions: Sequence[Question], answers: Sequence[int]) -> BigFive:
    """Big Five from 1-5 answers, in the order of ``questions``."""
    if len(answers) != len(questions):
        raise ValueError(f"expected {len(questions)} answers, got {len(answers)}")
    totals = {trait: [] for trait in BIG_FIVE_TRAITS}  # type: dict[str, list[float]]
    for question, answer in zip(questions, answers, strict=True):
        if not 1 <= answer <= 5:
            raise ValueError(f"answers run from 1 to 5, got {answer}")
        totals[question.trait].append(6 - answer if question.reverse else answer)
    return BigFive.model_validate(
        {trait: round((sum(scores) / len(scores) - 1) / 4, 2) for trait, scores in totals.items()}
    )


def draft_card(
    name: str,
    description: str,
    big_five: BigFive,
    *,
    mbti: str | None = None,
    greeting: str | None = None,
) -> Card:
    return Card.model_validate(
        {
            "name": name,
            "description": description,
            "personality": {"big_five": big_five.as_dict(), "mbti": mbti},
            "greeting": greeting,
        }
    )


def draft_yaml(card: Card, source: PersonalitySource) -> str:
    """The card as commented YAML: what each field is for and where the scores came from."""
    origin = {
        "numbers": "as you gave them",
        "mbti": f"pre-filled from MBTI {card.personality.mbti} (McCrae & Costa, 1989)",
        "questionnaire": "from the 10-item IPIP questionnaire (a rough sketch)",
    }[source]
    notes = {
        ("name",): "The character's name; {{char}} in any text stands for it.",
        ("description",): "Who they are, in the third person. Keep it under ~120 words.",
        ("personality", "big_five"): f"0 = low, 1 = high; {origin}.",
    }
    if card.description == DESCRIPTION_PLACEHOLDER:
        notes[("description",)] = "TODO: " + notes[("description",)]
    if card.personality.mbti:
        notes[("personality", "mbti")] = "Optional; letters that contradict big_five are warned."
    if card.greeting:
        notes[("greeting",)] = "The character's first message."
    header = [
        "Written by `roleplay card new`. Fields and examples: docs/authoring.md.",
        "More fields you can add: speaking_style, scenario, greeting, alternate_greetings,",
        "example_dialogues, memories, tags, lorebook. Check with `roleplay card lint FILE`.",
    ]
    return card_to_yaml(card, header=header, notes=notes)
