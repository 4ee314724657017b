"""The optional parts an interview or a scene plugs into the pipeline: controller and memory.

They are wired exactly as for chat, through ``roleplay.features`` (the factories every face
uses). The packages behind them (``roleplay.control``, ``roleplay.memory``) may be missing
from a stripped-down install; each builder here then returns ``None`` and callers report the
part as unavailable instead of failing.

Interviews and generated scenes read long-term memory but never write to it: asking a
character 50 questionnaire items, or generating a thousand scenes, must not rewrite what the
character remembers of the user's own chats. ``RecallOnlyMemory`` enforces that.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from functools import cache
from typing import Any, Protocol

from roleplay.cards.model import Card
from roleplay.pipeline import ControlFactory, MemoryFactory, MemoryPort
from roleplay.prompting.builder import MemorySnippet


class LoadedModelEngine(Protocol):
    """An engine that exposes its loaded model (``TransformersEngine``)."""

    loaded: Any


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


@cache
def controller_available() -> bool:
    return _importable("roleplay.control.controller") and _importable("roleplay.features")


@cache
def memory_available() -> bool:
    return _importable("roleplay.memory.service") and _importable("roleplay.features")


@cache
def grammar_available() -> bool:
    return _importable("roleplay.control.controller") and _importable("roleplay.control.grammar")


def controller_factory(engine: LoadedModelEngine) -> ControlFactory | None:
    """Steering from each card's Big Five (and ``attributes``), as in chat."""
    if not controller_available():
        return None
    from roleplay.features import FeatureOptions, control_factory

    return control_factory(engine, FeatureOptions(memory=False))


class RecallOnlyMemory:
    """A memory port that recalls through another one and never stores anything."""

    def __init__(self, inner: MemoryPort) -> None:
        self.inner = inner

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        return self.inner.recall_for_turn(query, recent_user_turns)

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        return None


def memory_factory() -> MemoryFactory | None:
    """Each card's long-term memory (seeded from the card, as in chat), read-only."""
    if not memory_available():
        return None
    from roleplay.features import FeatureOptions
    from roleplay.features import memory_factory as chat_memory_factory

    built = chat_memory_factory(FeatureOptions(steering=False))
    if built is None:
        return None
    chat_memory: MemoryFactory = built  # narrowed for the closure below

    def recall_only(card: Card) -> MemoryPort | None:
        inner = chat_memory(card)
        return RecallOnlyMemory(inner) if inner is not None else None

    return recall_only


def likert_grammar_processor(tokenizer: Any, grammar_name: str) -> Any | None:
    """A fresh transformers-cfg processor for the grammar, via the controller's adapter."""
    if not grammar_available():
        return None
    from roleplay.control.controller import grammar_compiler
    from roleplay.control.grammar import load_grammar

    # grammar_compiler shares one byte trie per tokenizer (about a second to build).
    return grammar_compiler(tokenizer).processor(load_grammar(grammar_name))
