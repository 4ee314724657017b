"""The optional parts an interview or a scene plugs into the pipeline: controller and memory.

They are wired exactly as for chat, through ``roleplay.features`` (the factories every face
uses). The packages behind them (``roleplay.control``, ``roleplay.memory``) may be missing
from a stripped-down install; each builder here then returns ``None`` and callers report the
part as unavailable, naming the package that is missing (``controller_missing()`` and
``memory_missing()``). Only a package that is really not installed makes a part
unavailable: any other import error (a broken import in our own code) is raised as it is.

Interviews and generated scenes read long-term memory but never write to it: asking a
character 50 questionnaire items, or generating a thousand scenes, must not rewrite what the
character remembers of the user's own chats. ``RecallOnlyMemory`` enforces that.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from roleplay.cards.model import BIG_FIVE_TRAITS, Card
from roleplay.errors import RoleplayError
from roleplay.pipeline import ControlFactory, ControlPort, MemoryFactory, MemoryPort
from roleplay.prompting.builder import MemorySnippet

if TYPE_CHECKING:
    from roleplay.control.config import Scope
    from roleplay.control.vectors import Combination
    from roleplay.features import FeatureOptions
    from roleplay.memory.settings import RememberPolicy


class LoadedModelEngine(Protocol):
    """An engine that exposes its loaded model (``TransformersEngine``)."""

    loaded: Any


def _installed(name: str) -> bool:
    """Whether module ``name`` can be found at all (``sys.modules[name] = None`` counts as not)."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def missing_package(*modules: str) -> str | None:
    """The module whose absence keeps one of ``modules`` from importing (``torch``, a
    stripped ``roleplay.control``...); ``None`` when they all import.

    Only ``ModuleNotFoundError`` for a module that really cannot be found counts as
    missing. Any other error raised while importing, e.g. ``ImportError: cannot import name``
    from a broken import in our own code, is raised: a bug is never shown as "unavailable".
    """
    for module in modules:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name is None or _installed(error.name):
                raise
            return error.name
    return None


def missing_reason(part: str, missing: str | None) -> str:
    """``"... needs roleplay.control: module 'torch' is not installed"`` (``part`` alone
    when no module is known to be missing)."""
    return part if missing is None else f"{part}: module {missing!r} is not installed"


@cache
def controller_missing() -> str | None:
    """The missing module that makes steering unavailable (``None``: available)."""
    return missing_package("roleplay.control.controller", "roleplay.features")


@cache
def memory_missing() -> str | None:
    """The missing module that makes long-term memory unavailable (``None``: available)."""
    return missing_package("roleplay.memory.service", "roleplay.features")


@cache
def grammar_missing() -> str | None:
    """The missing module that makes the grammar method unavailable (``None``: available)."""
    return missing_package("roleplay.control.controller", "roleplay.control.grammar")


def controller_available() -> bool:
    return controller_missing() is None


def memory_available() -> bool:
    return memory_missing() is None


def grammar_available() -> bool:
    return grammar_missing() is None


def controller_factory(
    engine: LoadedModelEngine,
    combination: Combination | None = None,
    scope: Scope | None = None,
    max_combined_strength: float | None = None,
    steered_traits: Sequence[str] | None = None,
    strengths_by_character: Mapping[str, Mapping[str, float]] | None = None,
    *,
    decouple_traits: bool | None = None,
    reply_half_life: float | None = None,
) -> ControlFactory | None:
    """Steering from each card's Big Five (and ``attributes``), as in chat; ``combination``
    overrides how the traits' vectors make one, ``scope`` which tokens they act on,
    ``max_combined_strength`` the bound on their sum's norm (variants; None: chat's);
    ``steered_traits`` steers only those Big Five traits, the others at 0 (a diagnostic:
    what one trait's vector does to every trait's measurement); ``strengths_by_character``
    steers the named characters at the strengths given instead of their cards' (a variant:
    ``benchmarks/steering_decoupled.py``); ``decouple_traits`` steers the Big Five at the
    strengths that cancel the vectors' cross-talk, or at the cards' (None: steering.yaml's);
    ``reply_half_life`` decays the vectors over each reply (None: steering.yaml's)."""
    if not controller_available():
        return None
    from roleplay.features import FeatureOptions, control_factory

    unknown = sorted(set(steered_traits or ()) - set(BIG_FIVE_TRAITS))
    if unknown:
        raise RoleplayError(f"steered traits: {', '.join(unknown)} is not a Big Five trait")
    silenced = (
        {trait: 0.0 for trait in BIG_FIVE_TRAITS if trait not in steered_traits}
        if steered_traits is not None
        else {}
    )
    options = FeatureOptions(
        memory=False,
        steering_combination=combination,
        steering_scope=scope,
        steering_max_combined_strength=max_combined_strength,
        steer_overrides=silenced,
        steering_decouple_traits=decouple_traits,
        steering_reply_half_life=reply_half_life,
    )
    if not strengths_by_character:
        return control_factory(engine, options)
    default = control_factory(engine, options)
    chosen: dict[str, ControlFactory] = {}
    for name, strengths in strengths_by_character.items():
        variant = replace(options, steer_overrides={**silenced, **dict(strengths)})
        factory = control_factory(engine, variant)
        if factory is not None:
            chosen[name] = factory
    if default is None:
        return None

    def build(card: Card) -> ControlPort | None:
        return chosen.get(card.name, default)(card)

    return build


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


def _memory_options(recalled_memories: int | None, **fields: Any) -> FeatureOptions:
    """Chat's memory options without steering; ``recalled_memories`` None keeps chat's."""
    from roleplay.features import FeatureOptions

    if recalled_memories is not None:
        fields["recalled_memories"] = recalled_memories
    return FeatureOptions(steering=False, **fields)


def memory_factory(recalled_memories: int | None = None) -> MemoryFactory | None:
    """Each card's long-term memory (seeded from the card, as in chat), read-only.
    ``recalled_memories``: how many a turn recalls (ablation; default chat's)."""
    if not memory_available():
        return None
    from roleplay.features import memory_factory as chat_memory_factory

    built = chat_memory_factory(_memory_options(recalled_memories))
    if built is None:
        return None
    chat_memory: MemoryFactory = built  # narrowed for the closure below

    def recall_only(card: Card) -> MemoryPort | None:
        inner = chat_memory(card)
        return RecallOnlyMemory(inner) if inner is not None else None

    return recall_only


def scratch_memory_factory(
    folder: Path,
    remember_policy: RememberPolicy | None = None,
    *,
    memory_pools: bool = False,
    recalled_memories: int | None = None,
) -> MemoryFactory | None:
    """Each card's long-term memory in a scratch store at ``folder`` (seeded from the card,
    written like chat's): a drift run's conversation remembers, the user's store is untouched.
    Ablations: ``remember_policy`` overrides what a turn leaves in memory;
    ``memory_pools`` recalls the user's words apart from the card's memories;
    ``recalled_memories`` is how many a turn recalls (default chat's)."""
    if not memory_available():
        return None
    from roleplay.features import memory_factory as chat_memory_factory

    return chat_memory_factory(
        _memory_options(
            recalled_memories,
            memory_folder=folder,
            remember_policy=remember_policy,
            memory_pools=memory_pools,
        )
    )


def forget_scratch_memory(folder: Path) -> None:
    """Close the scratch store's cached client before its folder is deleted."""
    if memory_available():
        from roleplay.memory.chroma_client import forget_client

        forget_client(folder)


def likert_grammar_processor(tokenizer: Any, grammar_name: str) -> Any | None:
    """A fresh transformers-cfg processor for the grammar, via the controller's adapter."""
    if not grammar_available():
        return None
    from roleplay.control.controller import grammar_compiler
    from roleplay.control.grammar import load_grammar

    # grammar_compiler shares one byte trie per tokenizer (about a second to build).
    return grammar_compiler(tokenizer).processor(load_grammar(grammar_name))
