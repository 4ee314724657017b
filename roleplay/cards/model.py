"""The character card: what a YAML card may contain, as pydantic v2 models.

Every model forbids unknown keys, so a misspelt field is an error instead of being silently
ignored. Card text is data: ``substituted()`` swaps the ``{{char}}``/``{{user}}`` placeholders
by plain string replacement and nothing in a card is ever interpreted as a template.
"""

from __future__ import annotations

import re
from itertools import product
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    Strict,
    StringConstraints,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from roleplay.cards.lore_keys import check_key

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
MbtiType = Annotated[
    str,
    Strict(),
    AfterValidator(normalise_mbti),
    # For editors only: validation stays in normalise_mbti (which also trims spaces).
    WithJsonSchema({"type": "string", "pattern": "^\\s*[EIei][SNsn][TFtf][JPjp]\\s*$"}),
]
# Attribute names are checked against the controller's list later; here they only have to be
# usable as identifiers (they end up as keys in configs and metric names).
AttributeName = Annotated[
    str, Strict(), StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)
]
StrictInt = Annotated[int, Strict()]
StrictBool = Annotated[bool, Strict()]


def _usable_key(key: str) -> str:
    # A custom error type: diagnostics shows the regex problem itself ("missing ), ...")
    # instead of a generic "must be text".
    try:
        return check_key(key)
    except ValueError as error:
        raise PydanticCustomError("card_value", str(error)) from None


LoreKey = Annotated[str, Strict(), AfterValidator(_not_blank), AfterValidator(_usable_key)]
# SillyTavern's four ways of combining an entry's secondary keys with its primary keys.
SelectiveLogic = Literal["and_any", "not_any", "not_all", "and_all"]
SELECTIVE_LOGICS: tuple[str, ...] = get_args(SelectiveLogic)
# Where a lorebook entry goes: in the system prompt before or after the character's
# definition, or as a message some depth into the chat (SillyTavern's entry positions).
LorePosition = Literal["before_char", "after_char", "at_depth"]
LORE_POSITIONS: tuple[str, ...] = get_args(LorePosition)
LoreRole = Literal["system", "user", "assistant"]
LORE_ROLES: tuple[str, ...] = get_args(LoreRole)
# SillyTavern's limit for depths and scan depths.
MAX_LORE_DEPTH = 1000
LoreDepth = Annotated[int, Strict(), Field(ge=0, le=MAX_LORE_DEPTH)]
Percent = Annotated[int, Strict(), Field(ge=0, le=100)]
GroupWeight = Annotated[int, Strict(), Field(ge=0, le=1_000_000)]


def _recursion_delay(value: Any) -> bool | int:
    if isinstance(value, bool) or (type(value) is int and 1 <= value <= MAX_LORE_DEPTH):
        return value
    raise PydanticCustomError(
        "card_value",
        "must be true, false or a recursion level from 1 to {limit}, got {value}",
        {"limit": MAX_LORE_DEPTH, "value": repr(value)},
    )


# SillyTavern's delayUntilRecursion: true (level 1) or a level (entries of level 2 wait until
# the scan has run out at level 1, and so on).
RecursionDelay = Annotated[
    bool | int,
    PlainValidator(_recursion_delay),
    WithJsonSchema(
        {"anyOf": [{"type": "boolean"}, {"type": "integer", "minimum": 1, "maximum": 1000}]}
    ),
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


# Attribute docstrings become field descriptions in `roleplay card schema`, so editors
# show them on hover.
_MODEL_CONFIG = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Personality(BaseModel):
    model_config = _MODEL_CONFIG

    big_five: BigFive
    """OCEAN scores, each from 0 (low) to 1 (high); all five required."""
    mbti: MbtiType | None = None
    """One of the 16 MBTI types (any case); letters that contradict big_five are warned."""
    traits: list[NonEmptyText] = Field(default_factory=list)
    """A few adjectives."""
    summary: OptionalText = None
    """Free-text personality, as other tools write it (SillyTavern's `personality`)."""


class DialogueLine(BaseModel):
    model_config = _MODEL_CONFIG

    role: Literal["user", "character"]
    content: NonEmptyText


class SeedMemory(BaseModel):
    model_config = _MODEL_CONFIG

    text: NonEmptyText
    emotion: dict[Emotion, UnitFloat] = Field(default_factory=dict)
    """Plutchik emotion -> intensity from 0 to 1."""


class LoreEntry(BaseModel):
    """One world-info entry: inserted into the prompt when its keys appear in the chat."""

    model_config = _MODEL_CONFIG

    keys: list[LoreKey] = Field(default_factory=list)
    """Words that make the entry fire; `/pattern/flags` for a regular expression."""
    secondary_keys: list[LoreKey] = Field(default_factory=list)
    """Further keys combined with `selective_logic` (only when `selective` is on)."""
    selective: StrictBool = True
    """Whether secondary keys count, as in SillyTavern."""
    selective_logic: SelectiveLogic = "and_any"
    """and_any, and_all, not_any or not_all: how secondary keys must (not) appear."""
    content: Text = ""
    """The text inserted under "World notes" ({{char}}/{{user}} are filled)."""
    comment: OptionalText = None
    """A label for authors; `roleplay prompt` names the entry by it."""
    constant: StrictBool = False
    """Always insert (within the budget), keys or not."""
    enabled: StrictBool = True
    insertion_order: StrictInt = 100
    """Lower comes first in the prompt; higher is kept first when the budget is short."""
    priority: StrictInt | None = None
    """Higher is kept first when the token budget is short."""
    case_sensitive: StrictBool | None = None
    """Match keys case-sensitively (default: no)."""
    match_whole_words: StrictBool | None = None
    """Match keys only as whole words (default: no, as in SillyTavern)."""
    position: LorePosition | None = None
    """before_char, after_char or at_depth: in the system prompt before or after the
    character's definition, or as a message `depth` messages from the end of the chat
    (default after_char)."""
    depth: LoreDepth | None = None
    """With position at_depth: how many messages from the end of the chat (0 = after the
    last one; default 4)."""
    role: LoreRole | None = None
    """With position at_depth: the message's role, system, user or assistant (default
    system)."""
    probability: Percent | None = None
    """Chance in percent (0-100) that the entry is inserted when it fires (default 100); the
    roll is the same for the same conversation."""
    use_probability: StrictBool | None = None
    """Whether `probability` applies (default: yes; false always inserts)."""
    group: OptionalText = None
    """Inclusion group(s), comma-separated: of the entries of one group that fire in a turn,
    only one is inserted."""
    group_override: StrictBool | None = None
    """Win the inclusion group outright (the highest `insertion_order` among such entries
    wins) instead of the weighted draw (default: no)."""
    group_weight: GroupWeight | None = None
    """The entry's weight in its group's draw (default 100)."""
    scan_depth: LoreDepth | None = None
    """How many of the latest messages are searched for this entry's keys (default: the
    book's `scan_depth`; 0 = keys never match)."""
    exclude_recursion: StrictBool | None = None
    """Only the chat can fire this entry, not the content of other entries (default: no)."""
    prevent_recursion: StrictBool | None = None
    """This entry's content does not fire other entries (default: no)."""
    delay_until_recursion: RecursionDelay | None = None
    """Fire only in recursion rounds (needs `recursive_scanning`), or a level from 1: level
    2 waits until level 1 has run out (default: no)."""
    extensions: dict[str, Any] = Field(default_factory=dict)
    """Other tools' data for this entry; kept, never used."""


class Lorebook(BaseModel):
    """A card's world info (SillyTavern's `character_book`)."""

    model_config = _MODEL_CONFIG

    name: OptionalText = None
    description: OptionalText = None
    scan_depth: Annotated[int, Strict(), Field(ge=1, le=1000)] | None = None
    """How many of the latest messages are searched for keys (default 2; an entry's own
    `scan_depth` overrides it)."""
    token_budget: Annotated[int, Strict(), Field(ge=1, le=1_000_000)] | None = None
    """The most tokens of lore per turn (default 512)."""
    recursive_scanning: StrictBool | None = None
    """Let the content of fired entries trigger more entries (default: off)."""
    entries: list[LoreEntry] = Field(default_factory=list)
    extensions: dict[str, Any] = Field(default_factory=dict)
    """Other tools' data for the lorebook; kept, never used."""


class CardMetadata(BaseModel):
    """About the card, not the character: kept for export, never shown to the model."""

    model_config = _MODEL_CONFIG

    creator: OptionalText = None
    creator_notes: OptionalText = None
    """Notes for people using the card (never shown to the model)."""
    character_version: OptionalText = None
    creation_date: StrictInt | None = None
    """Unix seconds, as in Character Card V3."""
    modification_date: StrictInt | None = None
    """Unix seconds, as in Character Card V3."""
    source: list[NonEmptyText] = Field(default_factory=list)
    """Where the card comes from (links or names)."""


class Card(BaseModel):
    """A character card as written in YAML (see docs/cards.md and docs/authoring.md).

    Models are frozen: one loaded card may be shared by the prompt builder, memory and the
    UI, so changes go through ``model_copy``/``substituted`` instead of mutation.
    """

    model_config = _MODEL_CONFIG

    name: NonEmptyText
    """The character's name; {{char}} in any text stands for it."""
    description: NonEmptyText
    """Who they are, in the third person (keep it under ~120 words)."""
    personality: Personality
    speaking_style: OptionalText = None
    """How they talk: rhythm, vocabulary, habits."""
    scenario: OptionalText = None
    """Where and when the conversation starts."""
    greeting: OptionalText = None
    """The character's first message."""
    alternate_greetings: list[NonEmptyText] = Field(default_factory=list)
    """Other first messages (offered as swipes)."""
    example_dialogues: list[list[DialogueLine]] = Field(default_factory=list)
    """Dialogues, each a list of {role: user|character, content} lines."""
    memories: list[SeedMemory] = Field(default_factory=list)
    """Seed memories: {text, emotion}."""
    attributes: dict[AttributeName, SignedUnitFloat] = Field(default_factory=dict)
    """Extra steering attributes: name -> number from -1 to 1."""
    tags: list[NonEmptyText] = Field(default_factory=list)
    system_prompt: OptionalText = None
    """Replaces the opening instruction of the system prompt; {{original}} inserts ours."""
    post_history_instructions: OptionalText = None
    """Sent after the chat history, as a final system note."""
    lorebook: Lorebook | None = None
    """World info: entries inserted when their keys come up in the chat."""
    metadata: CardMetadata = Field(default_factory=CardMetadata)
    """About the card (creator, version, notes); never shown to the model."""
    extensions: dict[str, Any] = Field(default_factory=dict)
    """Other tools' data (e.g. SillyTavern's extensions): kept as loaded, never interpreted."""

    def substituted(self, user_name: str) -> Card:
        """A copy with ``{{char}}``/``{{user}}`` (and ``<BOT>``/``<USER>``) filled in.

        The name and tags are left as written, and so are ``metadata`` and ``extensions``,
        which are about the card rather than the character. Lorebook entries are filled when
        they fire (see roleplay.prompting.builder), so their keys stay as written.
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
                    update={
                        "traits": [fill(trait) for trait in self.personality.traits],
                        "summary": optional(self.personality.summary),
                    }
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
                "system_prompt": optional(self.system_prompt),
                "post_history_instructions": optional(self.post_history_instructions),
            }
        )


# One pass over the text with every placeholder at once: a user called "{{char}}" stays
# "{{char}}" instead of being substituted a second time.
_PLACEHOLDER = re.compile(r"\{\{char\}\}|\{\{user\}\}|<bot>|<user>", re.IGNORECASE)


def fill_placeholders(text: str, *, char: str, user: str) -> str:
    """``{{char}}``/``{{user}}`` (and ``<BOT>``/``<USER>``) replaced in one pass."""
    return _Placeholders(char=char, user=user)(text)


class _Placeholders:
    def __init__(self, *, char: str, user: str) -> None:
        self._values = {"{{char}}": char, "<bot>": char, "{{user}}": user, "<user>": user}

    def __call__(self, text: str) -> str:
        # A function replacement, so backslashes or group references in names stay literal.
        return _PLACEHOLDER.sub(lambda match: self._values[match.group(0).lower()], text)
