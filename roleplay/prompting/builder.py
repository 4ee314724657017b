"""Builds the model's input for one turn: system block from the card, history, the new message.

Card text is data: it is passed to the (sandboxed) template as variables and never compiled,
so ``{{ 7*7 }}`` in a description reaches the model literally.

The token budget is the context window minus the reply budget. When the conversation does not
fit, the oldest history messages are dropped first, then the lowest-ranked memories; the
system block and the latest user message are never dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

from jinja2 import PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from roleplay.cards.model import Card
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.prompting.guidance import mbti_summary, personality_lines

# Per-message chat-template overhead (role markers, newlines) used for the first estimate; the
# final prompt is always measured exactly.
MESSAGE_OVERHEAD_TOKENS = 6


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
    """A world-info entry that fired for this turn."""

    content: str
    reason: str = ""


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
) -> str:
    """The system block for a card whose ``{{char}}``/``{{user}}`` are already substituted."""
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
        description=card.description,
        personality_lines=personality_lines(personality.big_five.as_dict()),
        mbti=personality.mbti,
        mbti_summary=mbti_summary(personality.mbti) if personality.mbti else "",
        traits=list(personality.traits),
        speaking_style=card.speaking_style,
        scenario=card.scenario,
        lore=[entry.content for entry in lore],
        memories=[memory.text for memory in memories],
        examples=examples,
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
    ) -> BuiltPrompt:
        budget = self.token_budget
        latest = ChatMessage("user", user_message)
        kept_memories = list(memories)
        while True:
            system = ChatMessage(
                "system", render_system_prompt(card, user_name, memories=kept_memories, lore=lore)
            )
            base_tokens = self.engine.count_tokens(self.engine.render_chat([system, latest]))
            if base_tokens <= budget or not kept_memories:
                break
            kept_memories.pop()  # memories come best first; drop the weakest
        if base_tokens > budget:
            raise RoleplayError(
                f"the card's system prompt plus the message need {base_tokens} tokens, more than "
                f"the {budget} available ({self.engine.context_window} context - "
                f"{self.reply_tokens} reply); shorten the card or raise --context-window"
            )
        kept_history = self._fit_history(history, budget - base_tokens)
        while True:
            messages = [system, *kept_history, latest]
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
            lore=list(lore),
        )

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
