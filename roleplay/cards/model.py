"""The character card: what a YAML card may contain, as pydantic v2 models.

Every model forbids unknown keys, so a misspelt field is an error instead of being silently
ignored. Card text is data: ``substituted()`` swaps the ``{{char}}``/``{{user}}`` placeholders
by plain string replacement and nothing in a card is ever interpreted as a template.
"""

from __future__ import annotations

import re
from itertools import product
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict, StringConstraints

# Plutchik's eight basic emotions, in his wheel's order. Other packages (memory scoring, mood)
# import EMOTIONS, so the order is part of the contract.
Emotion = Literal["joy", "trust", "fear", "surprise", "sadness", "disgust", "anger", "anticipation"]
EMOTIONS: tuple[str, ...] = get_args(Emotion)

MBTI_TYPES: frozenset[str] = frozenset(
    "".join(letters) for letters in product("EI", "SN", "TF", "JP")
)


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


def _blank_to_none(text: str | None) -> str | None:
    return text if text is not None and text.strip() else None


def normalise_mbti(value: str) -> str:
    """``istj`` -> ``ISTJ``; raises ValueError for anything but the 16 types."""
    normalised = value.strip().upper()
    if normalised not in MBTI_TYPES:
        raise ValueError("not one of the 16 MBTI types")
    return normalised


# Strict types: YAML happily turns `name: 1984` into an int or `openness: yes` into a bool;
# a card should say what it means, so nothing is coerced between numbers, text and booleans.
Text = Annotated[str, Strict()]
NonEmptyText = Annotated[str, Strict(), AfterValidator(_not_blank)]
# Optional prose: a blank value means "none", so consumers only need `if card.greeting:`.
OptionalText = Annotated[Text | None, AfterValidator(_blank_to_none)]
UnitFloat = Annotated[float, Strict(), Field(ge=0.0, le=1.0, allow_inf_nan=False)]
SignedUnitFloat = Annotated[float, Strict(), Field(ge=-1.0, le=1.0, allow_inf_nan=False)]
MbtiType = Annotated[str, Strict(), AfterValidator(normalise_mbti)]
# Attribute names are checked against the controller's list later; here they only have to be
# usable as identifiers (they end up as keys in configs and metric names).
AttributeName = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
]


class BigFive(BaseModel):
    """OCEAN scores, each between 0 (low) and 1 (high)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    openness: UnitFloat
    conscientiousness: UnitFloat
    extraversion: UnitFloat
    agreeableness: UnitFloat
    neuroticism: UnitFloat

    def as_dict(self) -> dict[str, float]:
        """``{"openness": ..., ...}`` in OCEAN order."""
        return {trait: float(getattr(self, trait)) for trait in BIG_FIVE_TRAITS}


# OCEAN order, as declared above.
BIG_FIVE_TRAITS: tuple[str, ...] = tuple(BigFive.model_fields)


class Personality(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    big_five: BigFive
    mbti: MbtiType | None = None
    traits: list[NonEmptyText] = Field(default_factory=list)


class DialogueLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    role: Literal["user", "character"]
    content: NonEmptyText


class SeedMemory(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    text: NonEmptyText
    emotion: dict[Emotion, UnitFloat] = Field(default_factory=dict)


class Card(BaseModel):
    """A character card as written in YAML (see docs/cards.md).

    Models are frozen: one loaded card may be shared by the prompt builder, memory and the
    UI, so changes go through ``model_copy``/``substituted`` instead of mutation.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: NonEmptyText
    description: NonEmptyText
    personality: Personality
    speaking_style: OptionalText = None
    scenario: OptionalText = None
    greeting: OptionalText = None
    alternate_greetings: list[NonEmptyText] = Field(default_factory=list)
    example_dialogues: list[list[DialogueLine]] = Field(default_factory=list)
    memories: list[SeedMemory] = Field(default_factory=list)
    attributes: dict[AttributeName, SignedUnitFloat] = Field(default_factory=dict)
    tags: list[NonEmptyText] = Field(default_factory=list)
    # Free-form (e.g. SillyTavern's extensions block): kept as loaded, never interpreted.
    extensions: dict[str, Any] = Field(default_factory=dict)

    def substituted(self, user_name: str) -> Card:
        """A copy with ``{{char}}``/``{{user}}`` (and ``<BOT>``/``<USER>``) filled in.

        The name and tags are left as written, and so are ``extensions``, which belong to
        other tools.
        """
        if not user_name.strip():
            raise ValueError("user_name must not be empty")
        fill = _Placeholders(char=self.name, user=user_name)

        def optional(text: str | None) -> str | None:
            return None if text is None else fill(text)

        return self.model_copy(
            update={
                "description": fill(self.description),
                "personality": self.personality.model_copy(
                    update={"traits": [fill(trait) for trait in self.personality.traits]}
                ),
                "speaking_style": optional(self.speaking_style),
                "scenario": optional(self.scenario),
                "greeting": optional(self.greeting),
                "alternate_greetings": [fill(text) for text in self.alternate_greetings],
                "example_dialogues": [
                    [line.model_copy(update={"content": fill(line.content)}) for line in dialogue]
                    for dialogue in self.example_dialogues
                ],
                "memories": [
                    memory.model_copy(update={"text": fill(memory.text)})
                    for memory in self.memories
                ],
            }
        )


# One pass over the text with every placeholder at once: a user called "{{char}}" stays
# "{{char}}" instead of being substituted a second time.
_PLACEHOLDER = re.compile(r"\{\{char\}\}|\{\{user\}\}|<bot>|<user>", re.IGNORECASE)


class _Placeholders:
    def __init__(self, *, char: str, user: str) -> None:
        self._values = {"{{char}}": char, "<bot>": char, "{{user}}": user, "<user>": user}

    def __call__(self, text: str) -> str:
        # A function replacement, so backslashes or group references in names stay literal.
        return _PLACEHOLDER.sub(lambda match: self._values[match.group(0).lower()], text)
