"""Wires the optional parts (memory, controller) into the pipeline's ports.

Every face that builds a pipeline (CLI, TUI, evaluation, dialogue generation) goes through
these factories, so a feature behaves the same everywhere. Heavy imports stay inside the
factories: a pipeline without memory never imports chromadb.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roleplay.cards.model import Card
from roleplay.pipeline import (
    ControlFactory,
    ControlPort,
    MemoryFactory,
    MemoryPort,
    ProfileFactory,
    ProfilePort,
)
from roleplay.prompting.builder import MemorySnippet

if TYPE_CHECKING:
    from roleplay.control.config import Scope
    from roleplay.control.vectors import Combination
    from roleplay.memory.service import CharacterMemory
    from roleplay.memory.settings import RememberPolicy

DEFAULT_RECALLED_MEMORIES = 3
# With ``memory_pools``: what the user said, recalled apart from the character's own three.
DEFAULT_RECALLED_USER_MEMORIES = 2
TOXICITY_FLAG_THRESHOLD = 0.5  # the audit's failure threshold, so chat and audit agree


@dataclass
class FeatureOptions:
    """What a chat uses beyond the prompt; every face exposes these as options."""

    memory: bool = True
    # Write what the chat says to memory and the user profile (off: recall only, e.g. to
    # retry a reply with the same memory state and seed).
    remember: bool = True
    chroma_url: str | None = None
    # A local memory store other than the user's (an evaluation's scratch store).
    memory_folder: Path | None = None
    memory_strategy: str | None = None
    # What a turn leaves in memory, over memory_defaults.yaml's ``remember.policy``. Only
    # the evaluation's ablations set it (benchmarks/persona_drift.py --remember).
    remember_policy: RememberPolicy | None = None
    recalled_memories: int = DEFAULT_RECALLED_MEMORIES
    # Recall ``recalled_memories`` of the character's own memories (card, notes, scenes)
    # and, apart, ``recalled_user_memories`` of what the user said, so that a long chat's
    # messages never push the card's memories out. Off by default: in the paired drift
    # ablation it cost fidelity (-0.02 Acc(Dim) after 10 and 20 turns, BENCHMARKS.md
    # "Drift"), as the card's memories in the prompt do on the default model, and a turn's
    # recall is slower (x2.85 at 10k memories, benchmarks/memory_pools_speed.py).
    memory_pools: bool = False
    recalled_user_memories: int = DEFAULT_RECALLED_USER_MEMORIES
    steering: bool = True
    steer_overrides: dict[str, float] = field(default_factory=dict)
    # A Hugging Face folder of the same model to build steering vectors from (else the
    # model builds its own, e.g. a GGUF through llama.cpp's eval callback).
    steering_source: str | None = None
    # How the attributes' vectors make one (steering.yaml's ``combination`` when None). Only
    # the evaluation's variants set it (benchmarks/persona_drift.py --steering-combination).
    steering_combination: Combination | None = None
    # Which tokens the vectors act on (steering.yaml's ``scope`` when None); likewise a
    # variant (--steering-scope).
    steering_scope: Scope | None = None
    # Bound on the norm of the traits' summed vector at a layer (steering.yaml's
    # ``max_combined_strength`` when None); likewise a variant (--max-combined-strength).
    steering_max_combined_strength: float | None = None
    # Big Five at cross-talk-cancelling strengths (steering.yaml's ``decouple_traits`` when
    # None); likewise a variant (benchmarks/persona_drift.py --decouple-traits on|off).
    steering_decouple_traits: bool | None = None
    # Tokens over which the vectors halve during a reply (steering.yaml's ``reply_half_life``
    # when None); likewise a variant (--reply-half-life).
    steering_reply_half_life: float | None = None
    toxicity: bool = True
    # What each character learns about the user from their statements (roleplay.profile).
    profile: bool = True


class ChatMemory:
    """Adapts a character's long-term memory to the pipeline's ``MemoryPort``."""

    def __init__(
        self,
        memory: CharacterMemory,
        *,
        k: int,
        user_k: int | None = None,
        remember: bool = True,
    ) -> None:
        """Each turn recalls the ``k`` best memories, or, with ``user_k`` set, ``k`` of the
        character's own memories and, apart, ``user_k`` of what the user said.
        ``remember=False``: recall only; nothing the chat says is written (``--no-remember``,
        so a reply can be tried again without the memory having grown in between)."""
        self.memory = memory
        self.k = k
        self.user_k = user_k
        self.remember = remember

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        if self.user_k is None:
            recalled = self.memory.recall(query, recent_user_turns, k=self.k)
        else:
            # The character's own first: the prompt's memory share keeps the best that fit.
            recalled = self.memory.recall(query, recent_user_turns, k=self.k, pool="character")
            if self.user_k > 0:
                recalled += self.memory.recall(query, recent_user_turns, k=self.user_k, pool="user")
        mood = self.memory.current_mood(recent_user_turns)
        snippets = [
            MemorySnippet(r.text, r.score, r.id, kind=str(r.metadata.get("kind", "")))
            for r in recalled
        ]
        return snippets, mood

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        if self.remember:
            self.memory.remember_exchange(user_text, reply_text, session_id, turn_index)

    def remember_scene(
        self, lines: Sequence[tuple[str, str]], session_id: str, moment: str
    ) -> None:
        if self.remember:
            self.memory.remember_scene(lines, session_id, moment)


class ToxicityFlag:
    """Scores each reply with the configured toxicity scorer and flags it above a threshold.

    The scorer (scikit-learn or detoxify, 1 s or more to import) loads on a background
    thread from construction on, so a chat shows its prompt without waiting for it; the
    first ``rate`` joins it.
    """

    def __init__(self, threshold: float = TOXICITY_FLAG_THRESHOLD) -> None:
        self.threshold = threshold
        self._choice: Any = None
        self._error: BaseException | None = None
        self._loading = threading.Thread(target=self._load, name="toxicity-scorer", daemon=True)
        self._loading.start()

    def _load(self) -> None:
        from roleplay.safety.toxicity import load_toxicity_scorer

        try:
            self._choice = load_toxicity_scorer()
        except BaseException as error:  # re-raised where the scorer is first needed
            self._error = error

    @property
    def choice(self) -> Any:
        self._loading.join()
        if self._error is not None:
            raise self._error
        return self._choice

    def rate(self, text: str) -> dict[str, Any]:
        scorer = self.choice.scorer
        score = scorer.score([text])[0]
        return {
            "score": round(score, 4),
            "flagged": score > self.threshold,
            "scorer": scorer.name,
        }


def memory_factory(options: FeatureOptions) -> MemoryFactory | None:
    if not options.memory:
        return None

    def build(card: Card) -> MemoryPort:
        from roleplay.memory.service import CharacterMemory
        from roleplay.memory.settings import default_settings

        settings = default_settings()
        if options.remember_policy is not None:
            remember = replace(settings.remember, policy=options.remember_policy)
            settings = replace(settings, remember=remember)
        memory = CharacterMemory(
            card,
            chroma_url=options.chroma_url,
            folder=options.memory_folder,
            strategy=options.memory_strategy,
            settings=settings,
        )
        memory.ensure_seed_memories()  # idempotent: content-hash ids
        return ChatMemory(
            memory,
            k=options.recalled_memories,
            user_k=options.recalled_user_memories if options.memory_pools else None,
            remember=options.remember,
        )

    return build


def profile_factory(options: FeatureOptions) -> ProfileFactory | None:
    """What each character learns about the user (``roleplay profile``); off with
    ``profile=False``."""
    if not options.profile:
        return None
    from roleplay.profile.factory import make_profile_factory

    factory = make_profile_factory()
    if options.remember:
        return factory
    return lambda card, user_name: ReadOnlyProfile(factory(card, user_name))


class ReadOnlyProfile:
    """A profile that recalls but learns nothing (``remember=False``, ``--no-remember``)."""

    def __init__(self, inner: ProfilePort) -> None:
        self.inner = inner

    def facts_for_turn(self, query: str) -> list[str]:
        return self.inner.facts_for_turn(query)

    def observe_user_message(self, text: str, *, session_id: str, message_id: int) -> None:
        return None


def control_factory(
    source: Any, options: FeatureOptions, status: Callable[[str], None] | None = None
) -> ControlFactory | None:
    """Steering and decoding controls for each card; off with ``steering=False``.

    ``source`` is the engine (any backend) or a loaded Hugging Face model. ``status`` hears
    once when vectors have to be built (a minute or more on a CPU, once per model).
    """

    said: list[bool] = []

    def progress(done: int, total: int) -> None:
        if status is not None and not said:  # say it once, when the build starts
            said.append(True)
            status(
                f"Building steering vectors from the model ({total} examples; once per "
                "model, then cached)..."
            )

    vector_source: list[Any] = []  # loaded once, on the first card that needs it

    def build(card: Card) -> ControlPort:
        from roleplay.control.controller import Controller

        if options.steering_source and options.steering and not vector_source:
            from roleplay.engine.loading import load_model

            vector_source.append(load_model(options.steering_source))
        return Controller.for_card(
            source,
            card,
            overrides=options.steer_overrides,
            enabled=options.steering,
            vector_source=vector_source[0] if vector_source else None,
            progress=progress,
            combination=options.steering_combination,
            scope=options.steering_scope,
            max_combined_strength=options.steering_max_combined_strength,
            decouple_traits=options.steering_decouple_traits,
            reply_half_life=options.steering_reply_half_life,
        )

    return build


def parse_steer_option(text: str | None) -> dict[str, float]:
    """``extraversion=+1.0,sentiment=-0.5`` -> strengths, names checked against the attributes."""
    if not text:
        return {}
    from roleplay.control.attributes import load_attributes
    from roleplay.control.strengths import parse_steer_spec

    return parse_steer_spec(text, load_attributes())
