"""SillyTavern card fields <-> our card fields.

Import (``card_from_tavern``):

| SillyTavern                    | our card                                         |
|--------------------------------|--------------------------------------------------|
| name, description, scenario    | name, description, scenario                      |
| personality (free text)        | personality.summary                              |
| first_mes, alternate_greetings | greeting, alternate_greetings                    |
| mes_example                    | example_dialogues (``<START>`` blocks)           |
| system_prompt                  | system_prompt                                    |
| post_history_instructions      | post_history_instructions                        |
| tags                           | tags                                             |
| character_book                 | lorebook                                         |
| creator, creator_notes,        | metadata (never shown to the model)              |
| character_version, V3 dates,   |                                                  |
| source                         |                                                  |
| extensions                     | extensions (as found)                            |
| anything else                  | extensions.roleplay.unmapped (given back)        |

The formats have no Big Five: unless the card was exported by us (``extensions.roleplay``
carries our personality) the scores are neutral placeholders marked ``traits_source: unset``,
or estimates marked ``estimated`` with ``--infer-traits``. Export (``tavern_from_card``) is
the inverse; our fields without a place in the format travel in ``extensions.roleplay``.

Text fields have Windows line ends (``\\r\\n``) turned into ``\\n`` on import, so the YAML card
can use ``|`` blocks; everything else is kept exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import ValidationError

from roleplay.cards.model import BIG_FIVE_TRAITS, Card, Personality
from roleplay.errors import RoleplayError
from roleplay.interop import bookkeeping as bk
from roleplay.interop.lorebook_mapping import book_from_tavern, book_to_tavern
from roleplay.interop.mes_example import (
    is_lossless,
    parse_mes_example,
    render_mes_example,
    round_trips,
)
from roleplay.interop.tavern import TavernCard
from roleplay.interop.traits import TraitEstimate, estimate_big_five

TraitsSource = Literal["author", "unset", "estimated"]

NEUTRAL_SCORE = 0.5
# A description is required here but may be blank elsewhere; the original blank is kept in
# extensions.roleplay.source_text and given back on export.
PLACEHOLDER_DESCRIPTION = "(no description)"

_KNOWN_DATA = (
    "name",
    "description",
    "personality",
    "scenario",
    "first_mes",
    "mes_example",
    "alternate_greetings",
    "system_prompt",
    "post_history_instructions",
    "tags",
    "creator",
    "creator_notes",
    "character_version",
    "character_book",
    "extensions",
    "creation_date",
    "modification_date",
    "source",
)
# Values our V3 export writes for required fields; they carry nothing, so imports drop them.
_DROPPED_DEFAULTS: dict[str, Any] = {"group_only_greetings": []}
# Our fields that travel in extensions.roleplay of an exported card.
_OURS = ("personality", "speaking_style", "memories", "attributes", "example_dialogues", "metadata")
_V3_METADATA = ("creation_date", "modification_date", "source")


@dataclass
class Mapped:
    """Our card's data (for ``Card.model_validate``) and how its Big Five were decided."""

    card: dict[str, Any]
    traits_source: TraitsSource
    estimate: TraitEstimate | None = None
    notes: list[str] = field(default_factory=list)


def card_from_tavern(tavern: TavernCard, where: str, *, infer_traits: bool = False) -> Mapped:
    data = tavern.data
    notes = list(tavern.notes)
    others, ours = bk.split_namespace(data.get("extensions"), f"{where}: extensions")
    for key in bk.RESTORED_KEYS:
        ours.pop(key, None)
    source_text: dict[str, Any] = {}

    name = _text(data.get("name"), "name", where)
    if not name or not name.strip():
        raise RoleplayError(f"{where}: the card has no name")
    description = _text(data.get("description"), "description", where) or ""
    if not description.strip():
        source_text["description"] = data.get("description")
        description = PLACEHOLDER_DESCRIPTION
        notes.append("the card has no description; a placeholder was written")

    card: dict[str, Any] = {"name": name.strip(), "description": description}
    estimate = None
    personality = ours.pop("personality", None)
    if personality is not None and _valid_personality(personality):
        traits_source: TraitsSource = "author"
        card["personality"] = dict(personality)
    else:
        if personality is not None:
            notes.append("extensions.roleplay.personality is not valid here and was ignored")
        if infer_traits:
            estimate = estimate_big_five(
                " ".join(
                    text
                    for text in (description, _text(data.get("personality"), "personality", where))
                    if text
                )
            )
            traits_source = "estimated"
            card["personality"] = {"big_five": estimate.scores}
        else:
            traits_source = "unset"
            card["personality"] = {"big_five": dict.fromkeys(BIG_FIVE_TRAITS, NEUTRAL_SCORE)}
        ours[bk.TRAITS_SOURCE] = traits_source
    summary = _text(data.get("personality"), "personality", where)
    if summary:
        card["personality"]["summary"] = summary

    for ours_name, theirs in (
        ("scenario", "scenario"),
        ("greeting", "first_mes"),
        ("system_prompt", "system_prompt"),
        ("post_history_instructions", "post_history_instructions"),
    ):
        value = _text(data.get(theirs), theirs, where)
        if value:
            card[ours_name] = value
    card["alternate_greetings"] = _greetings(data.get("alternate_greetings"), where, notes)
    card["example_dialogues"] = _examples(data.get("mes_example"), ours, source_text, where)
    card["tags"] = _tags(data.get("tags"), where, notes)
    for key in ("speaking_style", "memories", "attributes"):
        if ours.get(key) is not None:
            card[key] = ours.pop(key)
    book = book_from_tavern(data.get("character_book"), f"{where}: character_book")
    if book is not None:
        card["lorebook"] = book

    unmapped = {
        key: value
        for key, value in data.items()
        if key not in _KNOWN_DATA and _DROPPED_DEFAULTS.get(key, _MISSING) != value
    }
    card["metadata"] = _metadata(data, ours.pop("metadata", None), unmapped, where)
    for key, kept in ((bk.UNMAPPED, unmapped), (bk.LEGACY, tavern.legacy)):
        if kept:
            ours[key] = kept
    if source_text:
        ours[bk.SOURCE_TEXT] = source_text
    card["extensions"] = bk.join_namespace(others, ours)
    return Mapped(card, traits_source, estimate, notes)


def tavern_from_card(card: Card, *, v3: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(data, legacy)`` for a V2 or V3 envelope (see ccv2.write_v2 / ccv3.write_v3)."""
    dumped = card.model_dump(mode="json")
    others, ours = bk.split_namespace(card.extensions, "extensions")
    unmapped = _mapping(ours.pop(bk.UNMAPPED, None))
    legacy = _mapping(ours.pop(bk.LEGACY, None))
    source_text = _mapping(ours.pop(bk.SOURCE_TEXT, None))

    description = card.description
    if card.description == PLACEHOLDER_DESCRIPTION and "description" in source_text:
        description = source_text["description"]
    dialogues = dumped["example_dialogues"]
    raw_examples = source_text.get("mes_example")
    if isinstance(raw_examples, str) and parse_mes_example(raw_examples) == dialogues:
        mes_example = raw_examples
    else:
        mes_example = render_mes_example(dialogues)
        if not round_trips(dialogues):
            ours["example_dialogues"] = dialogues  # the text form would lose something

    personality = {key: value for key, value in dumped["personality"].items() if key != "summary"}
    ours["personality"] = personality
    for key in ("speaking_style", "memories", "attributes"):
        if dumped[key]:
            ours[key] = dumped[key]
    metadata = card.metadata
    data: dict[str, Any] = {
        "name": card.name,
        "description": description,
        "personality": card.personality.summary or "",
        "scenario": card.scenario or "",
        "first_mes": card.greeting or "",
        "mes_example": mes_example,
        "creator_notes": metadata.creator_notes or "",
        "system_prompt": card.system_prompt or "",
        "post_history_instructions": card.post_history_instructions or "",
        "alternate_greetings": list(card.alternate_greetings),
        "tags": list(card.tags),
        "creator": metadata.creator or "",
        "character_version": metadata.character_version or "",
    }
    if card.lorebook is not None:
        data["character_book"] = book_to_tavern(dumped["lorebook"], v3=v3)
    dates = {
        key: value for key in _V3_METADATA if (value := dumped["metadata"][key]) not in (None, [])
    }
    if v3:
        data.update(dates)
    elif dates:
        ours["metadata"] = dates
    for key, value in unmapped.items():
        data.setdefault(key, value)
    data["extensions"] = bk.join_namespace(others, ours)
    return data, legacy


_MISSING = object()


def _valid_personality(value: Any) -> bool:
    try:
        Personality.model_validate(value)
    except ValidationError:
        return False
    return isinstance(value, Mapping) and "summary" not in value


def _text(value: Any, field_name: str, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise RoleplayError(f"{where}: {field_name} must be text, got {type(value).__name__}")
    return str(value).replace("\r\n", "\n")


def _greetings(value: Any, where: str, notes: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        # Seen in the wild: one greeting as a bare string instead of a list.
        notes.append("alternate_greetings was a single text, read as one greeting")
        value = [value]
    if not isinstance(value, list):
        raise RoleplayError(f"{where}: alternate_greetings must be a list of texts")
    greetings = [_text(item, "alternate_greetings", where) for item in value]
    return [greeting for greeting in greetings if greeting and greeting.strip()]


def _tags(value: Any, where: str, notes: list[str]) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        if value.strip():
            notes.append("tags was a single text, split at commas")
        value = value.split(",")
    if not isinstance(value, list):
        raise RoleplayError(f"{where}: tags must be a list of texts")
    tags = [_text(item, "tags", where) for item in value]
    return [tag.strip() for tag in tags if tag and tag.strip()]


def _examples(
    value: Any, ours: dict[str, Any], source_text: dict[str, Any], where: str
) -> list[Any]:
    text = _text(value, "mes_example", where) or ""
    exported = ours.pop("example_dialogues", None)
    # Our own export keeps dialogues the text form cannot hold; use them while the text is
    # still what we wrote.
    if isinstance(exported, list):
        try:
            if render_mes_example(exported) == value:
                return exported
        except (KeyError, TypeError):
            pass
    if text.strip() and not is_lossless(text):
        source_text["mes_example"] = value
    return parse_mes_example(text)


def _metadata(
    data: Mapping[str, Any], exported: Any, unmapped: dict[str, Any], where: str
) -> dict[str, Any]:
    metadata: dict[str, Any] = {}
    for key in ("creator", "creator_notes", "character_version"):
        text = _text(data.get(key), key, where)
        if text and text.strip():
            metadata[key] = text
    candidates = dict(exported) if isinstance(exported, Mapping) else {}
    candidates.update({key: data[key] for key in _V3_METADATA if key in data})
    for key in ("creation_date", "modification_date"):
        value = candidates.get(key)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if type(value) is int:
            metadata[key] = value
        elif key in data and data[key] is not None:
            unmapped[key] = data[key]  # not a Unix time: keep as found
    source = candidates.get("source")
    if isinstance(source, list) and all(isinstance(item, str) and item.strip() for item in source):
        metadata["source"] = source
    elif "source" in data and data["source"] is not None:
        unmapped["source"] = data["source"]
    return metadata


def _mapping(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}
