"""Wires the optional parts (memory, controller) into the pipeline's ports.

Every face that builds a pipeline (CLI, TUI, evaluation, dialogue generation) goes through
these factories, so a feature behaves the same everywhere. Heavy imports stay inside the
factories: a pipeline without memory never imports chromadb.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roleplay.cards.model import Card
from roleplay.pipeline import ControlFactory, ControlPort, MemoryFactory, MemoryPort
from roleplay.prompting.builder import MemorySnippet

if TYPE_CHECKING:
    from roleplay.memory.service import CharacterMemory

DEFAULT_RECALLED_MEMORIES = 3
TOXICITY_FLAG_THRESHOLD = 0.5  # the audit's failure threshold, so chat and audit agree


@dataclass
class FeatureOptions:
    """What a chat uses beyond the prompt; every face exposes these as options."""

    memory: bool = True
    chroma_url: str | None = None
    memory_strategy: str | None = None
    recalled_memories: int = DEFAULT_RECALLED_MEMORIES
    steering: bool = True
    steer_overrides: dict[str, float] = field(default_factory=dict)
    toxicity: bool = True


class ChatMemory:
    """Adapts a character's long-term memory to the pipeline's ``MemoryPort``."""

    def __init__(self, memory: CharacterMemory, *, k: int) -> None:
        self.memory = memory
        self.k = k

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        recalled = self.memory.recall(query, recent_user_turns, k=self.k)
        mood = self.memory.current_mood(recent_user_turns)
        snippets = [MemorySnippet(r.text, r.score, r.id) for r in recalled]
        return snippets, mood

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        self.memory.remember_exchange(user_text, reply_text, session_id, turn_index)


class ToxicityFlag:
    """Scores each reply with the configured toxicity scorer and flags it above a threshold."""

    def __init__(self, threshold: float = TOXICITY_FLAG_THRESHOLD) -> None:
        from roleplay.safety.toxicity import load_toxicity_scorer

        self.choice = load_toxicity_scorer()
        self.threshold = threshold

    def rate(self, text: str) -> dict[str, Any]:
        score = self.choice.scorer.score([text])[0]
        return {
            "score": round(score, 4),
            "flagged": score > self.threshold,
            "scorer": self.choice.scorer.name,
        }


def memory_factory(options: FeatureOptions) -> MemoryFactory | None:
    if not options.memory:
        return None

    def build(card: Card) -> MemoryPort:
        from roleplay.memory.service import CharacterMemory

        memory = CharacterMemory(
            card, chroma_url=options.chroma_url, strategy=options.memory_strategy
        )
        memory.ensure_seed_memories()  # idempotent: content-hash ids
        return ChatMemory(memory, k=options.recalled_memories)

    return build


def control_factory(source: Any, options: FeatureOptions) -> ControlFactory | None:
    """Steering and decoding controls for each card; off with ``steering=False``.

    ``source`` is the engine (any backend) or a loaded Hugging Face model.
    """

    def build(card: Card) -> ControlPort:
        from roleplay.control.controller import Controller

        return Controller.for_card(
            source, card, overrides=options.steer_overrides, enabled=options.steering
        )

    return build


def parse_steer_option(text: str | None) -> dict[str, float]:
    """``extraversion=+1.0,sentiment=-0.5`` -> strengths, names checked against the attributes."""
    if not text:
        return {}
    from roleplay.control.attributes import load_attributes
    from roleplay.control.strengths import parse_steer_spec

    return parse_steer_spec(text, load_attributes())
