"""Builds the model's input for one turn: system block from the card, history, the new message.

Card text is data: it is passed to the (sandboxed) template as variables and never compiled,
so ``{{ 7*7 }}`` in a description reaches the model literally.

The token budget is the context window minus the reply budget. When the conversation does not
fit, the oldest history messages are dropped first, then the lowest-ranked memories, then the
least important lore entries; the system block, the latest user message and the card's
post-history instructions are never dropped.

A card's ``post_history_instructions`` go after the history as a final system message (as
SillyTavern sends them). Chat templates that refuse a system message there (some only allow
one, first) get the note appended to the latest user message instead.

Two layouts (``PromptLayout``) place the per-turn parts (recalled memories, lore that fired):

- ``system`` (default): inside the system block. Persona fidelity was measured this way
  (BENCHMARKS.md), but the block changes every turn, so a backend's cached prefix ends
  there and every turn recomputes the whole conversation: time to first token grows with it.
- ``turn``: in a system message right before the latest user message. Everything earlier
  stays identical between turns, so the KV cache covers it and time to first token stays
  flat (BENCHMARKS.md, "Backends").

In the ``system`` layout, ``MemoryPosition`` says where in the block the recalled memories
(and the user's earlier words) go: ``after_character`` (default), after the card's
description, personality, style and scenario, the last thing before the example exchanges;
or ``before_character``, right after the opening line, so the card's own text is what the
model reads last (issue 17's placement ablation, BENCHMARKS.md "Drift").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol

from jinja2 import TemplateError

from roleplay.cards.model import Card, fill_placeholders
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.prompting.character_note import (
    CHAT_NOTE_PARTS,
    DEFAULT_NOTE_DEPTH,
    MAX_NOTE_DEPTH,
    DepthNote,
    MessageRole,
    character_note,
)
from roleplay.prompting.guidance import mbti_summary, personality_lines
from roleplay.prompting.templating import environment, render_template

PromptLayout = Literal["system", "turn"]
MemoryPosition = Literal["after_character", "before_character"]
LorePosition = Literal["before_char", "after_char", "at_depth"]
DEFAULT_LORE_DEPTH = DEFAULT_NOTE_DEPTH

# The most of the token budget recalled memories may take, however many are recalled: they
# inform the reply without pushing the character's own description and the chat out
# (issue 17: one chat's memories took half of a new chat's first prompt).
DEFAULT_MEMORY_SHARE = 0.15
# A scene's topic is said again near the end once the scene has this many messages.
TOPIC_NOTE_AFTER = 2
# A memory's bullet and newline, on top of its text.
MEMORY_OVERHEAD_TOKENS = 2
# The memory kind that holds the user's own words (roleplay.memory's ``statements`` and
# ``user`` remember policies).
USER_SAID = "user_said"
PROMPT_LAYOUTS: tuple[str, ...] = ("system", "turn")
MEMORY_POSITIONS: tuple[str, ...] = ("after_character", "before_character")
DEFAULT_MEMORY_POSITION: MemoryPosition = "after_character"

# Per-message chat-template overhead (role markers, newlines) used for the first estimate; the
# final prompt is always measured exactly.
MESSAGE_OVERHEAD_TOKENS = 6

# SillyTavern's macro for "the default instruction" inside a card's own system prompt.
_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)


class PromptEngine(Protocol):
    context_window: int

    def render_chat(self, messages: Sequence[ChatMessage]) -> str: ...

    def count_tokens(self, text: str) -> int: ...


@dataclass(frozen=True)
class MemorySnippet:
    """A recalled memory offered to the prompt, best first."""

    text: str
    score: float
    memory_id: str = ""
    # "user_said" for what the user said (shown as such), else the character's own memory.
    kind: str = ""


@dataclass(frozen=True)
class LoreSnippet:
    """A world-info entry that fired for this turn.

    ``name`` says which entry (its comment, or ``#index``), ``reason`` why it fired, and
    ``rank`` how important it is (0 = most): when the prompt is over budget, the highest
    ranks are dropped first.
    """

    content: str
    reason: str = ""
    name: str = ""
    rank: int = 0
    # Where it goes (SillyTavern's entry position): in the system block before or after the
    # character's definition, or as a message ``depth`` messages from the end of the chat
    # with ``role`` (system, user or assistant).
    position: LorePosition = "after_char"
    depth: int = DEFAULT_LORE_DEPTH
    role: MessageRole = "system"


@dataclass(frozen=True)
class SceneContext:
    """A character's place in a scene with others: who else is there (in speaking order,
    the user included where there is one) and what the scene is about."""

    others: tuple[str, ...]
    topic: str = ""

    def others_label(self) -> str:
        """``("Sable", "Pip", "Lena")`` -> ``"Sable, Pip and Lena"``."""
        if len(self.others) <= 1:
            return "".join(self.others)
        return ", ".join(self.others[:-1]) + " and " + self.others[-1]


@dataclass
class BuiltPrompt:
    messages: list[ChatMessage]
    text: str
    prompt_tokens: int
    token_budget: int
    dropped_messages: int = 0
    memories: list[MemorySnippet] = field(default_factory=list)
    dropped_memories: int = 0
    lore: list[LoreSnippet] = field(default_factory=list)
    dropped_lore: int = 0
    user_facts: list[str] = field(default_factory=list)
    dropped_user_facts: int = 0


def render_system_prompt(
    card: Card,
    user_name: str,
    *,
    memories: Sequence[MemorySnippet] = (),
    lore: Sequence[LoreSnippet] = (),
    steering_guidance: Sequence[str] = (),
    user_description: str = "",
    user_facts: Sequence[str] = (),
    scene: SceneContext | None = None,
    memory_position: MemoryPosition = DEFAULT_MEMORY_POSITION,
) -> str:
    """The system block for a card whose ``{{char}}``/``{{user}}`` are already substituted.

    Lore entries are filled here (``{{char}}``/``{{user}}``), when they fire.
    ``steering_guidance`` is the controller's steering in words, for backends that cannot
    take steering vectors (a remote server). ``user_description`` is the user's persona
    (``roleplay persona``), ``user_facts`` what the character has learned about the user
    (``roleplay profile``); both are data, filled like card text. ``scene`` is the group
    scene the character is in (None in a one-to-one chat). ``memory_position``: where the
    recalled memories go (module docstring).
    """
    personality = card.personality
    examples = [
        [
            {
                "speaker": card.name if line.role == "character" else user_name,
                "content": line.content,
            }
            for line in dialogue
        ]
        for dialogue in card.example_dialogues
    ]
    template = environment().get_template("system.j2")
    text = template.render(
        name=card.name,
        user=user_name,
        # Split on {{original}} so the template joins the parts around its own opening.
        system_prompt_parts=_ORIGINAL.split(card.system_prompt) if card.system_prompt else [],
        description=card.description,
        personality_summary=personality.summary or "",
        personality_lines=personality_lines(personality.big_five.as_dict()),
        mbti=personality.mbti,
        mbti_summary=mbti_summary(personality.mbti) if personality.mbti else "",
        traits=list(personality.traits),
        speaking_style=card.speaking_style,
        scenario=card.scenario,
        lore_before=_filled(
            [entry for entry in lore if entry.position == "before_char"], card, user_name
        ),
        lore=_filled([entry for entry in lore if entry.position == "after_char"], card, user_name),
        memories=[memory.text for memory in memories if memory.kind != USER_SAID],
        user_said=[memory.text for memory in memories if memory.kind == USER_SAID],
        memories_first=memory_position == "before_character",
        examples=examples,
        steering_guidance=list(steering_guidance),
        user_description=fill_placeholders(user_description, char=card.name, user=user_name),
        user_facts=list(user_facts),
        scene_with=scene.others_label() if scene is not None else "",
        scene_topic=scene.topic if scene is not None else "",
    )
    return text.strip()


def render_turn_context(
    card: Card,
    user_name: str,
    *,
    memories: Sequence[MemorySnippet] = (),
    lore: Sequence[LoreSnippet] = (),
    user_facts: Sequence[str] = (),
) -> str:
    """This turn's lore, memories and facts about the user as one note ("" when there are
    none), for the ``turn`` layout. Lore entries are filled here (``{{char}}``/``{{user}}``),
    when they fire; entries placed at a depth are not part of it."""
    lore = [entry for entry in lore if entry.position != "at_depth"]
    if not memories and not lore and not user_facts:
        return ""
    text = (
        environment()
        .get_template("turn_context.j2")
        .render(
            name=card.name,
            user=user_name,
            lore=_filled(
                [entry for entry in lore if entry.position != "at_depth"], card, user_name
            ),
            memories=[memory.text for memory in memories if memory.kind != USER_SAID],
            user_said=[memory.text for memory in memories if memory.kind == USER_SAID],
            user_facts=list(user_facts),
        )
    )
    return text.strip()


def _topic_note(scene: SceneContext | None, history_length: int) -> list[DepthNote]:
    """A scene's topic, said again right before the character writes once the scene has
    begun: the opening line that named it scrolls away, and lines drift off it (measured in
    ``benchmarks/scene_repetition.py``)."""
    if scene is None or not scene.topic.strip() or history_length < TOPIC_NOTE_AFTER:
        return []
    return [DepthNote(topic_note_text(scene.topic), depth=0)]


def topic_note_text(topic: str) -> str:
    """What the topic note says (``templates/topic_note.j2``)."""
    return render_template("topic_note.j2", topic=topic.strip()).strip()


def _filled(lore: Sequence[LoreSnippet], card: Card, user_name: str) -> list[str]:
    return [fill_placeholders(entry.content, char=card.name, user=user_name) for entry in lore]


class PromptBuilder:
    """Fits card, memories, lore and history into the model's context window."""

    def __init__(
        self,
        engine: PromptEngine,
        *,
        reply_tokens: int,
        layout: PromptLayout = "system",
        memory_share: float = DEFAULT_MEMORY_SHARE,
        character_notes: bool = True,
        memory_position: MemoryPosition = DEFAULT_MEMORY_POSITION,
        note_depth: int | None = None,
    ) -> None:
        """``memory_share``: the most of the token budget recalled memories may take.
        ``character_notes``: re-assert the card's traits near the end of a long chat
        (``roleplay.prompting.character_note``); ``note_depth``: where a note written from
        the traits goes instead of ``WRITTEN_NOTE_DEPTH`` (an evaluation's variant; a card's
        own note keeps its depth). ``memory_position``: where memories go in
        the system block (module docstring)."""
        if layout not in PROMPT_LAYOUTS:
            raise RoleplayError(f"prompt layout {layout!r}: use one of {', '.join(PROMPT_LAYOUTS)}")
        if memory_position not in MEMORY_POSITIONS:
            raise RoleplayError(
                f"memory position {memory_position!r}: use one of {', '.join(MEMORY_POSITIONS)}"
            )
        if not 0.0 <= memory_share <= 1.0:
            raise RoleplayError(f"memory share {memory_share}: use a fraction from 0 to 1")
        self.engine = engine
        self.reply_tokens = reply_tokens
        self.layout = layout
        self.memory_share = memory_share
        if note_depth is not None and not 0 <= note_depth <= MAX_NOTE_DEPTH:
            raise RoleplayError(f"note depth {note_depth}: use 0 to {MAX_NOTE_DEPTH}")
        self.character_notes = character_notes
        self.memory_position = memory_position
        self.note_depth = note_depth
        # Which parts a written note says (``NOTE_PARTS``): chat's, or others in a drift
        # diagnostic's view (``Interviewer.interview_history_views``).
        self.note_parts = CHAT_NOTE_PARTS

    @property
    def token_budget(self) -> int:
        return self.engine.context_window - self.reply_tokens

    def build(
        self,
        card: Card,
        user_name: str,
        history: Sequence[ChatMessage],
        user_message: str,
        *,
        memories: Sequence[MemorySnippet] = (),
        lore: Sequence[LoreSnippet] = (),
        steering_guidance: Sequence[str] = (),
        user_description: str = "",
        user_facts: Sequence[str] = (),
        scene: SceneContext | None = None,
    ) -> BuiltPrompt:
        """Over budget, the weakest memories go first, then the facts about the user (the
        least relevant first), then the least important lore, then the character's note.
        Memories never take more than ``memory_share`` of the budget, whatever else fits. Lore
        placed at a depth and the character's note (once the chat is that long) go between
        the history's messages."""
        budget = self.token_budget
        kept_memories = self._within_memory_share(memories, budget)
        kept_facts = list(user_facts)
        kept_lore = list(lore)
        in_system = self.layout == "system"
        note = self._character_note(card, user_name, len(history))
        topic = _topic_note(scene, len(history))
        while True:
            system = ChatMessage(
                "system",
                render_system_prompt(
                    card,
                    user_name,
                    memories=kept_memories if in_system else (),
                    lore=kept_lore if in_system else (),
                    steering_guidance=steering_guidance,
                    user_description=user_description,
                    user_facts=kept_facts if in_system else (),
                    scene=scene,
                    memory_position=self.memory_position,
                ),
            )
            context = (
                ""
                if in_system
                else render_turn_context(
                    card, user_name, memories=kept_memories, lore=kept_lore, user_facts=kept_facts
                )
            )
            closing = self._closing(card, user_message, context)
            notes = [*self._depth_notes(kept_lore, note, card, user_name), *topic]
            base_tokens = self.engine.count_tokens(
                self.engine.render_chat(self._placed([system], closing, notes))
            )
            if base_tokens <= budget or not (kept_memories or kept_facts or kept_lore or note):
                break
            if kept_memories:
                kept_memories.pop()  # memories come best first; drop the weakest
            elif kept_facts:
                kept_facts.pop()
            elif kept_lore:
                weakest = max(kept_lore, key=lambda snippet: snippet.rank)
                kept_lore.remove(weakest)
            else:
                note = None  # last: it repeats the card, which the system block still holds
        if base_tokens > budget:
            raise RoleplayError(
                f"the card's system prompt plus the message need {base_tokens} tokens, more than "
                f"the {budget} available ({self.engine.context_window} context - "
                f"{self.reply_tokens} reply); shorten the card or raise --context-window"
            )
        kept_history = self._fit_history(history, budget - base_tokens)
        while True:
            messages = self._placed([system, *kept_history], closing, notes)
            text = self.engine.render_chat(messages)
            tokens = self.engine.count_tokens(text)
            if tokens <= budget or not kept_history:
                break
            kept_history = kept_history[1:]  # the estimate was short: drop one more, oldest first
        return BuiltPrompt(
            messages=messages,
            text=text,
            prompt_tokens=tokens,
            token_budget=budget,
            dropped_messages=len(history) - len(kept_history),
            memories=kept_memories,
            dropped_memories=len(memories) - len(kept_memories),
            user_facts=kept_facts,
            dropped_user_facts=len(user_facts) - len(kept_facts),
            # As the model sees them: {{char}}/{{user}} filled.
            lore=[
                replace(
                    snippet,
                    content=fill_placeholders(snippet.content, char=card.name, user=user_name),
                )
                for snippet in kept_lore
            ],
            dropped_lore=len(lore) - len(kept_lore),
        )

    def _within_memory_share(
        self, memories: Sequence[MemorySnippet], budget: int
    ) -> list[MemorySnippet]:
        """The best memories whose text fits ``memory_share`` of the budget (best first; a
        long one is skipped for shorter ones after it)."""
        allowance = int(self.memory_share * budget)
        kept: list[MemorySnippet] = []
        used = 0
        for memory in memories:
            cost = self.engine.count_tokens(memory.text) + MEMORY_OVERHEAD_TOKENS
            if used + cost <= allowance:
                kept.append(memory)
                used += cost
        return kept

    def _character_note(self, card: Card, user_name: str, history_length: int) -> DepthNote | None:
        """The note, once the history is as long as its depth. In the ``turn`` layout it
        goes right before the turn's context instead, so the earlier conversation stays an
        unchanged prefix (the backend's KV cache covers it)."""
        if not self.character_notes:
            return None
        note = character_note(card, user_name, self.note_depth, self.note_parts)
        if history_length < max(note.depth, 1):
            return None
        return replace(note, depth=1) if self.layout == "turn" else note

    @staticmethod
    def _depth_notes(
        lore: Sequence[LoreSnippet], note: DepthNote | None, card: Card, user_name: str
    ) -> list[DepthNote]:
        """What goes between the chat's messages: lore placed at a depth, then the note."""
        placed = [
            DepthNote(
                fill_placeholders(snippet.content, char=card.name, user=user_name),
                snippet.depth,
                snippet.role,
            )
            for snippet in lore
            if snippet.position == "at_depth"
        ]
        return [*placed, *([note] if note is not None else [])]

    def _placed(
        self, head: list[ChatMessage], closing: list[ChatMessage], notes: Sequence[DepthNote]
    ) -> list[ChatMessage]:
        """``head`` (system block and history), then ``closing``, with each note ``depth``
        messages from the end of the chat (0 = after the newest user message, before the
        card's post-history note; deeper than the chat = right after the system block).

        A chat template that refuses a message where a note goes (one that allows a single
        system message, or strictly alternating roles) gets the notes folded into the
        newest user message instead, as ``_closing`` does with the post-history note."""
        if not notes:
            return [*head, *closing]
        newest = max(i for i, message in enumerate(closing) if message.role == "user")
        # The chat as units: each history message, then the turn context with the newest
        # user message; the system block and the post-history note stay where they are.
        units: list[list[ChatMessage]] = [[message] for message in head[1:]]
        units.append(closing[: newest + 1])
        for note in notes:
            at = max(0, len(units) - note.depth)
            units.insert(at, [ChatMessage(note.role, note.content)])
        placed = [head[0], *(m for unit in units for m in unit), *closing[newest + 1 :]]
        try:
            self.engine.render_chat(placed)
        except (TemplateError, RoleplayError):
            latest = closing[newest]
            folded = "\n\n".join([*(note.content for note in notes), latest.content])
            return [*head, *closing[:newest], ChatMessage("user", folded), *closing[newest + 1 :]]
        return placed

    def _closing(self, card: Card, user_message: str, context: str = "") -> list[ChatMessage]:
        """The messages after the history: turn context, the new user message, the card's note."""
        latest = ChatMessage("user", user_message)
        note = card.post_history_instructions
        if not context and not note:
            return [latest]
        closing = [
            *([ChatMessage("system", context)] if context else []),
            latest,
            *([ChatMessage("system", note)] if note else []),
        ]
        # Right after the system block (no history yet) and after a chat exchange.
        openings = (
            [ChatMessage("system", "-")],
            [ChatMessage("system", "-"), ChatMessage("user", "-"), ChatMessage("assistant", "-")],
        )
        try:
            for opening in openings:
                self.engine.render_chat([*opening, *closing])
        except (TemplateError, RoleplayError):  # the template allows one system message, first
            folded = "\n\n".join(part for part in (context, user_message, note) if part)
            return [ChatMessage("user", folded)]
        return closing

    def _fit_history(self, history: Sequence[ChatMessage], available: int) -> list[ChatMessage]:
        kept: list[ChatMessage] = []
        used = 0
        for message in reversed(history):
            cost = self.engine.count_tokens(message.content) + MESSAGE_OVERHEAD_TOKENS
            if used + cost > available:
                break
            kept.append(message)
            used += cost
        kept.reverse()
        return kept
