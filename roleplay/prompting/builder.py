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
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Protocol

from jinja2 import PackageLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from roleplay.cards.model import Card, fill_placeholders
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.prompting.guidance import mbti_summary, personality_lines

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


@lru_cache(maxsize=1)
def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        loader=PackageLoader("roleplay.prompting", "templates"),
        autoescape=False,  # plain text for a language model, not HTML
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def render_system_prompt(
    card: Card,
    user_name: str,
    *,
    memories: Sequence[MemorySnippet] = (),
    lore: Sequence[LoreSnippet] = (),
    steering_guidance: Sequence[str] = (),
) -> str:
    """The system block for a card whose ``{{char}}``/``{{user}}`` are already substituted.

    Lore entries are filled here (``{{char}}``/``{{user}}``), when they fire.
    ``steering_guidance`` is the controller's steering in words, for backends that cannot
    take steering vectors (a remote server).
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
    template = _environment().get_template("system.j2")
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
        lore=[fill_placeholders(entry.content, char=card.name, user=user_name) for entry in lore],
        memories=[memory.text for memory in memories],
        examples=examples,
        steering_guidance=list(steering_guidance),
    )
    return text.strip()


class PromptBuilder:
    """Fits card, memories, lore and history into the model's context window."""

    def __init__(self, engine: PromptEngine, *, reply_tokens: int) -> None:
        self.engine = engine
        self.reply_tokens = reply_tokens

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
    ) -> BuiltPrompt:
        budget = self.token_budget
        kept_memories = list(memories)
        kept_lore = list(lore)
        closing = self._closing(card, user_message)
        while True:
            system = ChatMessage(
                "system",
                render_system_prompt(
                    card,
                    user_name,
                    memories=kept_memories,
                    lore=kept_lore,
                    steering_guidance=steering_guidance,
                ),
            )
            base_tokens = self.engine.count_tokens(self.engine.render_chat([system, *closing]))
            if base_tokens <= budget or not (kept_memories or kept_lore):
                break
            if kept_memories:
                kept_memories.pop()  # memories come best first; drop the weakest
            else:
                weakest = max(kept_lore, key=lambda snippet: snippet.rank)
                kept_lore.remove(weakest)
        if base_tokens > budget:
            raise RoleplayError(
                f"the card's system prompt plus the message need {base_tokens} tokens, more than "
                f"the {budget} available ({self.engine.context_window} context - "
                f"{self.reply_tokens} reply); shorten the card or raise --context-window"
            )
        kept_history = self._fit_history(history, budget - base_tokens)
        while True:
            messages = [system, *kept_history, *closing]
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

    def _closing(self, card: Card, user_message: str) -> list[ChatMessage]:
        """The messages after the history: the new user message and the post-history note."""
        latest = ChatMessage("user", user_message)
        note = card.post_history_instructions
        if not note:
            return [latest]
        closing = [latest, ChatMessage("system", note)]
        try:
            self.engine.render_chat([ChatMessage("system", "-"), *closing])
        except TemplateError:  # the chat template allows no system message after the chat
            return [ChatMessage("user", f"{user_message}\n\n{note}")]
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
