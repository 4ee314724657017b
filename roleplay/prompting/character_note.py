"""The character's note: the card's traits re-asserted near the end of a long conversation.

As a chat grows, the system block that describes the character moves far from where the
model writes, and replies drift toward the assistant's or the user's voice (issue 17,
``benchmarks/persona_drift.py``). SillyTavern's answer is the "character's note", a short
text inserted a few messages from the end (``depth``); cards carry it as
``extensions.depth_prompt: {prompt, depth, role}``. A card with one gets its own; every other
card gets one written from its Big Five (the same guidance lines as the system block) and
its trait words, placed at ``WRITTEN_NOTE_DEPTH`` (1: right before the newest message,
where the model reads it last; measured against SillyTavern's 4 in BENCHMARKS.md, "The
character's note nearer the reply"). The note joins the prompt only once the history is at
least ``depth`` messages long: before that the system block is close enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from roleplay.cards.model import Card, fill_placeholders
from roleplay.errors import RoleplayError
from roleplay.prompting.guidance import personality_lines
from roleplay.prompting.templating import render_template

MessageRole = Literal["system", "user", "assistant"]
MESSAGE_ROLES: tuple[str, ...] = ("system", "user", "assistant")
# SillyTavern's default depth for a character's note and an "@ depth" lore entry (a card's
# own note without a usable depth gets it).
DEFAULT_NOTE_DEPTH = 4
# Where the note written from a card's traits goes: right before the newest message. Held
# the characters better after 20 turns than depth 4 (benchmarks/persona_drift.py
# --note-depth; BENCHMARKS.md, "The character's note nearer the reply").
WRITTEN_NOTE_DEPTH = 1
MAX_NOTE_DEPTH = 1000
# The written note's parts, in order: "Stay <name>.", the trait lines, "In a few words:
# <trait words>.", and the closing sentence on whose voice to answer in. A drift diagnostic
# leaves some out to see which part moves the interview's scores.
NOTE_PARTS: tuple[str, ...] = ("stay", "lines", "words", "voice")
ALL_NOTE_PARTS = frozenset(NOTE_PARTS)
# The parts chat's note says: all but the closing sentence. With the trait lines, that
# sentence made every character read more agreeable after a long chat whatever its card
# said; without it agreeableness after 20 turns went 0.50 -> 0.70 on the evaluation set and
# 0.60 -> 0.80 on the confirmation set, Acc(Dim) +0.02 on each (BENCHMARKS.md, "Which part
# of the note lifts agreeableness").
CHAT_NOTE_PARTS = frozenset({"stay", "lines", "words"})


@dataclass(frozen=True)
class DepthNote:
    """Text inserted ``depth`` messages from the end of the chat (0 = after the newest)."""

    content: str
    depth: int = DEFAULT_NOTE_DEPTH
    role: MessageRole = "system"


def character_note(
    card: Card,
    user_name: str,
    depth: int | None = None,
    parts: frozenset[str] = CHAT_NOTE_PARTS,
) -> DepthNote:
    """The card's own note (``extensions.depth_prompt``) or one written from its traits,
    placed at ``depth`` (default: ``WRITTEN_NOTE_DEPTH``; a card's own note keeps its own).
    ``parts``: which of ``NOTE_PARTS`` a written note says (a card's own note is whole)."""
    unknown = sorted(parts - ALL_NOTE_PARTS)
    if unknown or not parts:
        raise RoleplayError(
            f"note parts {', '.join(unknown) or '(none)'}: use some of {', '.join(NOTE_PARTS)}"
        )
    own = _card_depth_prompt(card)
    if own is not None:
        prompt, own_depth, role = own
        return DepthNote(fill_placeholders(prompt, char=card.name, user=user_name), own_depth, role)
    personality = card.personality
    text = render_template(
        "character_note.j2",
        name=card.name,
        user=user_name,
        personality_lines=personality_lines(personality.big_five.as_dict()),
        traits=list(personality.traits),
        parts=parts,
    )
    # Each part after the first starts with a space; without "stay" the first one does too.
    text = "[" + text.strip().removeprefix("[").lstrip()
    return DepthNote(text, WRITTEN_NOTE_DEPTH if depth is None else depth)


def _card_depth_prompt(card: Card) -> tuple[str, int, MessageRole] | None:
    """SillyTavern's ``depth_prompt`` extension when it holds usable text (else None)."""
    section: Any = card.extensions.get("depth_prompt") if card.extensions else None
    if not isinstance(section, dict):
        return None
    prompt = section.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return None
    depth = section.get("depth")
    if type(depth) is not int or not 0 <= depth <= MAX_NOTE_DEPTH:
        depth = DEFAULT_NOTE_DEPTH
    role = section.get("role")
    chosen: MessageRole = role if role in ("user", "assistant") else "system"
    return prompt.strip(), depth, chosen
