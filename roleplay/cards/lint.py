"""``roleplay card lint``: advice on a valid card, beyond what validation enforces.

Token counts here are a cheap estimate, ``words * 1.3`` (English text averages about 1.3 BPE
tokens per word), so lint needs no model. The limits assume the default 2048-token context:
the card's own text should leave most of it for the conversation.
"""

from __future__ import annotations

import math
from typing import Any

from roleplay.cards.diagnostics import locate
from roleplay.cards.loader import CardCheck
from roleplay.cards.model import Card
from roleplay.errors import Problem

TOKENS_PER_WORD = 1.3
DESCRIPTION_TOKENS = 300
CARD_TOKENS = 1000
# Import bookkeeping (see roleplay.interop.bookkeeping); read here without importing interop.
_NAMESPACE = "roleplay"
_PLACEHOLDER_DESCRIPTIONS = frozenset(
    {"(no description)", "TODO: who {{char}} is, in the third person."}
)


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.split()) * TOKENS_PER_WORD)


def advice(display: str, check: CardCheck) -> list[Problem]:
    """Located advice for a card that validated (``check.card`` set)."""
    card, tree = check.card, check.tree
    if card is None:
        return []

    def at(loc: tuple[str | int, ...], message: str) -> Problem:
        # At the key: a mapping's value would point at the line below it.
        line, column = locate(tree, loc, at_key=True)
        return Problem(display, line, column, message)

    found: list[Problem] = []
    if card.description in _PLACEHOLDER_DESCRIPTIONS:
        found.append(
            at(("description",), "description is still a placeholder; describe the character")
        )
    description_tokens = estimate_tokens(card.description)
    if description_tokens > DESCRIPTION_TOKENS:
        found.append(
            at(
                ("description",),
                f"description is about {description_tokens} tokens (words x 1.3); keep it under "
                f"{DESCRIPTION_TOKENS} so a 2048-token context keeps room for the chat",
            )
        )
    total = estimate_tokens(_prompt_text(card))
    if total > CARD_TOKENS:
        found.append(
            at(
                (),
                f"the card's prompt text is about {total} tokens (words x 1.3); above "
                f"{CARD_TOKENS} little of a 2048-token context is left for the conversation",
            )
        )
    traits_source = _bookkeeping(card).get("traits_source")
    if traits_source == "unset":
        found.append(
            at(
                ("personality", "big_five"),
                "big_five holds neutral placeholders from an import; set the scores, then "
                "delete extensions.roleplay.traits_source",
            )
        )
    elif traits_source == "estimated":
        found.append(
            at(
                ("personality", "big_five"),
                "big_five was estimated from the card's words; review the scores, then delete "
                "extensions.roleplay.traits_source",
            )
        )
    if not card.greeting:
        found.append(at((), "no greeting: the chat will open with the user's message"))
    if not card.example_dialogues:
        found.append(
            at((), "no example_dialogues: two or three short exchanges show the model the voice")
        )
    if card.lorebook is not None:
        for index, entry in enumerate(card.lorebook.entries):
            where = ("lorebook", "entries", index)
            if not entry.keys and not entry.constant and entry.enabled:
                found.append(
                    at(
                        where,
                        f"lorebook.entries[{index}] has no keys and is not constant: "
                        "it never fires",
                    )
                )
            if not entry.content.strip():
                found.append(
                    at(where, f"lorebook.entries[{index}] has no content: it adds nothing")
                )
    return sorted(found, key=lambda problem: (problem.line, problem.column))


def _prompt_text(card: Card) -> str:
    parts = [
        card.description,
        card.personality.summary or "",
        card.speaking_style or "",
        card.scenario or "",
        card.system_prompt or "",
        card.post_history_instructions or "",
        *(line.content for dialogue in card.example_dialogues for line in dialogue),
    ]
    return " ".join(parts)


def _bookkeeping(card: Card) -> dict[str, Any]:
    block = card.extensions.get(_NAMESPACE)
    return block if isinstance(block, dict) else {}
