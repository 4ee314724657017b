"""The IPIP-50 Big-Five questionnaire and the interview settings, both read from data files.

Items are stored as IPIP publishes them ("Am the life of the party."); the interview asks
them in the first person ("I am the life of the party."), which ``first_person`` derives.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from ruamel.yaml import YAML

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.resources import package_path

DATA_DIR = package_path("roleplay.evaluation", "data")
IPIP50_PATH = DATA_DIR / "ipip50.yaml"
INTERVIEW_PATH = DATA_DIR / "interview.yaml"

TRAIT_LETTERS: dict[str, str] = {trait[0].upper(): trait for trait in BIG_FIVE_TRAITS}
TraitLetter = Literal["O", "C", "E", "A", "N"]


class Item(BaseModel):
    """One questionnaire item. ``keyed`` is +1 (agreeing means more of the trait) or -1."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    trait_letter: TraitLetter = Field(alias="trait")
    keyed: Literal[1, -1]
    text: str = Field(min_length=2)

    @property
    def trait(self) -> str:
        """The full trait name (``extraversion``)."""
        return TRAIT_LETTERS[self.trait_letter]

    @property
    def statement(self) -> str:
        return first_person(self.text)


class Questionnaire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: tuple[Item, ...]

    @field_validator("items")
    @classmethod
    def _every_trait_twice(cls, items: tuple[Item, ...]) -> tuple[Item, ...]:
        # A trait needs items keyed both ways, or acquiescence (agreeing with everything)
        # would pass for a trait level.
        for letter in TRAIT_LETTERS:
            keys = {item.keyed for item in items if item.trait_letter == letter}
            if keys != {1, -1}:
                raise ValueError(f"trait {letter} needs items keyed both +1 and -1")
        if len({item.id for item in items}) != len(items):
            raise ValueError("item ids must be unique")
        return items

    def items_for(self, trait: str) -> list[Item]:
        return [item for item in self.items if item.trait == trait]


def first_person(text: str) -> str:
    """``"Am the life of the party."`` -> ``"I am the life of the party."``.

    IPIP items omit the subject "I"; every item starts with a verb or an auxiliary, so the
    subject goes in front and the verb loses its capital.
    """
    stripped = text.strip()
    return f"I {stripped[0].lower()}{stripped[1:]}"


class LikertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question: str
    options: tuple[str, ...] = Field(min_length=2)
    grammar: str

    @field_validator("question")
    @classmethod
    def _has_statement(cls, question: str) -> str:
        if "{statement}" not in question:
            raise ValueError("the question must contain {statement}")
        return question

    def ask(self, item: Item) -> str:
        return self.question.replace("{statement}", item.statement)


class LikelihoodSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    request: str
    neutral_system_prompt: str
    scale: float = Field(gt=0)


class AccuracySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    midpoint: float = Field(ge=0, le=1)
    exclusion_margin: float = Field(ge=0, lt=0.5)


class InterviewSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    interviewer_name: str = Field(min_length=1)
    likert: LikertSettings
    likelihood: LikelihoodSettings
    accuracy: AccuracySettings
    batch_size: int = Field(ge=1)


def _read(path: Path) -> object:
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


@cache
def load_questionnaire(path: Path = IPIP50_PATH) -> Questionnaire:
    return Questionnaire.model_validate(_read(path))


@cache
def load_interview_settings(path: Path = INTERVIEW_PATH) -> InterviewSettings:
    return InterviewSettings.model_validate(_read(path))
