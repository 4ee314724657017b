"""``CharacterMemory``: the chat pipeline's entry point to one character's long-term memory.

Per turn the pipeline calls ``recall`` (topic = the user's message, mood = the recent user
turns) before building the prompt, and ``remember_exchange`` after the reply. Heavy
libraries (chromadb, torch, transformers) load on first use, not on import.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import numpy as np

from roleplay.errors import RoleplayError
from roleplay.memory.emotions import emotion_dict, emotion_vector
from roleplay.memory.mood import blend_mood, recent_turns
from roleplay.memory.records import MemoryRecord, MetadataValue, RecalledMemory
from roleplay.memory.scoring import EmotionScorer, default_emotion_scorer, score_emotions
from roleplay.memory.settings import MemorySettings, default_settings
from roleplay.memory.speech_acts import statements_and_actions
from roleplay.memory.store import MemoryStore, NewMemory
from roleplay.memory.strategies import (
    check_strategy,
    emotional_similarity,
    mood_strength,
    rank,
)
from roleplay.memory.validation import check_result_count, check_text

if TYPE_CHECKING:
    from roleplay.cards.model import Card, SeedMemory
    from roleplay.memory.encoder import SentenceEncoder

# The kind of a memory that holds what the user said (the ``statements`` and ``user``
# remember policies).
USER_SAID = "user_said"

# Which memories a recall chooses from: all, the character's own (card, notes, scenes,
# exchanges) or what the user said. With ``FeatureOptions.memory_pools`` chat recalls the
# last two apart, so that a long chat's messages never push the card's memories out.
RecallPool = Literal["all", "character", "user"]
RECALL_POOLS: tuple[str, ...] = get_args(RecallPool)
_POOL_FILTERS: dict[str, dict[str, Any] | None] = {
    "all": None,
    "character": {"kind": {"$ne": USER_SAID}},
    "user": {"kind": USER_SAID},
}

# Memories embedded and written per step of a bulk add: big enough for efficient batches
# and Chroma writes, small enough for a progress bar to move.
INGEST_CHUNK = 512


class CharacterMemory:
    """One character's memories: seed, recall by topic and mood, remember exchanges.

    ``strategy`` (explicit) wins over the card's ``extensions.roleplay.memory_strategy``,
    which wins over the measured default in ``data/memory_defaults.yaml``.
    """

    def __init__(
        self,
        card: Card,
        *,
        chroma_url: str | None = None,
        folder: Path | None = None,
        strategy: str | None = None,
        scorer: EmotionScorer | None = None,
        settings: MemorySettings | None = None,
    ) -> None:
        self.card = card
        self.settings = settings or default_settings()
        self.strategy = check_strategy(strategy or card_strategy(card) or self.settings.strategy)
        self.store = MemoryStore(card.name, chroma_url=chroma_url, folder=folder)
        self._scorer = scorer
        self._encoder: SentenceEncoder | None = None

    @property
    def scorer(self) -> EmotionScorer:
        if self._scorer is None:
            self._scorer = default_emotion_scorer()
        return self._scorer

    @property
    def encoder(self) -> SentenceEncoder:
        if self._encoder is None:
            from roleplay.memory.encoder import get_encoder

            self._encoder = get_encoder()
        return self._encoder

    # -- writing ---------------------------------------------------------------------------

    def ensure_seed_memories(self) -> int:
        """Store the card's seed memories that are not stored yet; returns how many were new.

        Ids are content hashes, so loading the same card again adds nothing.
        """
        seeds = {seed_id(memory.text): memory for memory in self.card.memories}
        missing = [key for key in seeds if key not in self.store.existing_ids(list(seeds))]
        if not missing:
            return 0
        self.add_memories(
            [seeds[key].text for key in missing],
            emotions=[_seed_emotion(seeds[key]) for key in missing],
            ids=missing,
            metadatas=[{"kind": "seed", "speaker": "character"} for _ in missing],
        )
        return len(missing)

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> str | None:
        """Store what one turn leaves in memory; returns the memory's id (None: nothing kept).

        The policy (``remember`` in memory_defaults.yaml) decides what that is:
        ``statements`` keeps what the user stated and did (their questions and requests
        left out, ``speech_acts.py``), ``user`` their whole message, both as what they said
        and only when at least ``min_words`` words are left; ``exchange`` keeps the message
        and the reply verbatim. The id comes from (session, turn), so a regenerated reply
        or an edited message replaces the earlier memory (an edit too short to keep, or
        with nothing worth keeping, removes it).
        """
        check_text(user_text, "the user's message", self.settings.max_text_chars)
        check_text(reply_text, "the reply", self.settings.max_text_chars)
        memory_id = exchange_id(session_id, turn_index)
        policy = self.settings.remember
        metadata: dict[str, MetadataValue] = {
            "session_id": session_id,
            "turn_index": int(turn_index),
        }
        if policy.policy == "exchange":
            text = exchange_text(user_text, reply_text, self.card.name)
            metadata.update(kind="exchange", speaker="user+character")
        else:
            text = (
                statements_and_actions(user_text)
                if policy.policy == "statements"
                else user_text.strip()
            )
            if len(text.split()) < policy.min_words:
                if self.store.existing_ids([memory_id]):
                    self.store.delete([memory_id])
                return None
            metadata.update(kind=USER_SAID, speaker="user")
        self.add_memories([text], ids=[memory_id], metadatas=[metadata])
        return memory_id

    def remember_scene(
        self, lines: Sequence[tuple[str, str]], session_id: str, moment: str
    ) -> str | None:
        """Store what this character witnessed in a group scene: ``(speaker, text)`` lines.

        ``moment`` names the point in the scene (the message the reply answered), so a
        regenerated reply replaces the memory of the one it replaced. Unless the policy is
        ``exchange``, the character's own lines are left out: it remembers what others said
        and did, not its own wording.
        """
        for speaker, text in lines:
            check_text(text, f"{speaker}'s line", self.settings.max_text_chars)
        if self.settings.remember.policy != "exchange":
            lines = [(speaker, text) for speaker, text in lines if speaker != self.card.name]
        if not lines:
            return None
        text = "\n".join(f"{speaker}: {line.strip()}" for speaker, line in lines)
        memory_id = scene_id(session_id, moment)
        metadata: dict[str, MetadataValue] = {
            "kind": "scene",
            "speaker": "scene",
            "session_id": session_id,
        }
        self.add_memories([text], ids=[memory_id], metadatas=[metadata])
        return memory_id

    def add_memory(self, text: str, emotion: Mapping[str, float] | None = None) -> str:
        """Store a note (the CLI's ``memory add``); the emotion is scored when not given."""
        memory_id = note_id(text)
        self.add_memories([text], emotions=[emotion], ids=[memory_id])
        return memory_id

    def add_memories(
        self,
        texts: Sequence[str],
        *,
        emotions: Sequence[Mapping[str, float] | None] | None = None,
        ids: Sequence[str] | None = None,
        metadatas: Sequence[Mapping[str, MetadataValue]] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Embed (batched), score and store memories; emotions not given are scored.

        Everything is validated before anything is written. Large inputs go in chunks;
        ``progress`` is called with the number of memories stored after each chunk.
        """
        for text in texts:
            check_text(text, "memory text", self.settings.max_text_chars)
        given = list(emotions) if emotions is not None else [None] * len(texts)
        ids = list(ids) if ids is not None else [note_id(text) for text in texts]
        metadatas = list(metadatas) if metadatas is not None else [{} for _ in texts]
        if not len(given) == len(ids) == len(metadatas) == len(texts):
            raise ValueError("texts, emotions, ids and metadatas must have the same length")
        explicit = {row: emotion_vector(values) for row, values in enumerate(given) if values}
        base: dict[str, MetadataValue] = {"kind": "note", "timestamp": time.time()}
        chunks = [
            [
                _Pending(ids[row], texts[row], explicit.get(row), {**base, **metadatas[row]})
                for row in range(start, min(start + INGEST_CHUNK, len(texts)))
            ]
            for start in range(0, len(texts), INGEST_CHUNK)
        ]
        stored = 0
        for chunk in chunks:
            # Sequential on purpose: writing on a second thread while the next chunk is
            # embedded was slower on 2 cores, where the model already uses both.
            self.store.write(self._prepare(chunk))
            stored += len(chunk)
            if progress is not None:
                progress(stored)
        return ids

    def _prepare(self, chunk: list[_Pending]) -> list[NewMemory]:
        """Embed a chunk and score the emotions it does not bring along."""
        embeddings = self.encoder.encode([pending.text for pending in chunk])
        to_score = [pending.text for pending in chunk if pending.emotion is None]
        scores = score_emotions(self.scorer, to_score)
        scored = iter(zip(scores.vectors, scores.raw, strict=True))
        memories = []
        for pending, embedding in zip(chunk, embeddings, strict=True):
            if pending.emotion is not None:
                vector = raw = pending.emotion
            else:
                vector, raw = next(scored)
            memories.append(
                NewMemory(pending.id, pending.text, embedding, vector, raw, pending.metadata)
            )
        return memories

    # -- reading ---------------------------------------------------------------------------

    def current_mood(self, recent_user_turns: Sequence[str]) -> dict[str, float]:
        """The mood of the recent user turns (oldest first), as ``{"joy": ..., ...}``."""
        return emotion_dict(self._mood_vector(recent_user_turns))

    def recall(
        self,
        query: str,
        recent_user_turns: Sequence[str],
        k: int = 3,
        strategy: str | None = None,
        emotion_override: Mapping[str, float] | None = None,
        pool: RecallPool = "all",
    ) -> list[RecalledMemory]:
        """The ``k`` memories best matching the query's topic and the mood, best first.

        The mood comes from ``recent_user_turns`` (oldest first; usually ending with the
        query itself) unless ``emotion_override`` sets it explicitly. ``pool`` limits the
        choice to the character's own memories or to what the user said.
        """
        check_text(query, "the query", self.settings.max_text_chars)
        check_result_count(k)
        if pool not in RECALL_POOLS:
            raise RoleplayError(
                f"unknown memory pool {pool!r}; use one of {', '.join(RECALL_POOLS)}"
            )
        chosen = check_strategy(strategy or self.strategy)
        turns = recent_turns(list(recent_user_turns), self.settings.mood)
        for turn in turns:
            check_text(turn, "a recent user turn", self.settings.max_text_chars)
        # One batch for the query and the turns; the scorer then finds the turns cached.
        query_embedding = self.encoder.encode([query, *turns])[0]
        if emotion_override is not None:
            mood = emotion_vector(emotion_override)
        else:
            mood = self._mood_vector(turns)
        strength = mood_strength(mood)
        # A first stage smaller than k would return fewer than k memories.
        weights = replace(
            self.settings.weights,
            semantic_pool=max(self.settings.weights.semantic_pool, k),
            emotional_pool=max(self.settings.weights.emotional_pool, k),
        )
        emotion_first = chosen == "s-s" and strength >= weights.min_mood_strength
        if emotion_first:
            candidates = self.store.nearest_by_emotion(
                mood, weights.emotional_pool, query_embedding
            )
            if pool != "all":  # the emotion index holds no metadata: filtered here
                candidates = candidates.subset(
                    [in_pool(metadata, pool) for metadata in candidates.metadatas]
                )
        else:
            candidates = self.store.nearest_by_text(
                query_embedding,
                max(self.settings.candidates, weights.semantic_pool, k),
                where=_POOL_FILTERS[pool],
            )
        if not len(candidates):
            return []
        emotional = emotional_similarity(mood, candidates.emotions)
        ranking = rank(chosen, candidates.semantic, emotional, k, weights, strength)
        return [
            RecalledMemory(
                id=candidates.ids[i],
                text=candidates.texts[i],
                score=round(float(score), 6),
                emotion=emotion_dict(candidates.emotions[i]),
                semantic=round(float(sem), 6),
                emotional=round(float(emo), 6),
                metadata=candidates.metadatas[i],
            )
            for i, score, sem, emo in zip(
                ranking.indices, ranking.scores, ranking.semantic, ranking.emotional, strict=True
            )
        ]

    def memories(self) -> list[MemoryRecord]:
        """Every stored memory of this character, oldest first."""
        return self.store.records()

    def forget(self, ids: Sequence[str]) -> None:
        """Forget the given memories; unknown ids are an error and nothing is deleted."""
        unknown = sorted(set(ids) - self.store.existing_ids(list(ids)))
        if unknown:
            raise RoleplayError(f"no memory with id {', '.join(unknown)} for {self.card.name}")
        self.store.delete(list(ids))

    def forget_all(self) -> None:
        self.store.delete_all()

    def _mood_vector(self, recent_user_turns: Sequence[str]) -> np.ndarray:
        turns = recent_turns(list(recent_user_turns), self.settings.mood)
        if not turns:
            return blend_mood(np.zeros((0, 8), np.float32), self.settings.mood)
        return blend_mood(self.scorer.score(turns), self.settings.mood)


@dataclass(frozen=True)
class _Pending:
    """A validated memory waiting to be embedded (``emotion`` None = score it)."""

    id: str
    text: str
    emotion: np.ndarray | None
    metadata: dict[str, MetadataValue]


def in_pool(metadata: Mapping[str, Any], pool: RecallPool) -> bool:
    """Whether a memory with this metadata belongs to the recall pool."""
    if pool == "all":
        return True
    return (metadata.get("kind") == USER_SAID) is (pool == "user")


def card_strategy(card: Card) -> str | None:
    """The card's ``extensions: {roleplay: {memory_strategy: ...}}``, checked, or None."""
    section: Any = card.extensions.get("roleplay") if card.extensions else None
    if not isinstance(section, dict) or "memory_strategy" not in section:
        return None
    value = section["memory_strategy"]
    if not isinstance(value, str):
        raise RoleplayError(f"{card.name}: extensions.roleplay.memory_strategy must be a name")
    return check_strategy(value)


def exchange_text(user_text: str, reply_text: str, character_name: str) -> str:
    """What the ``exchange`` remember policy stores for one turn."""
    return f"User: {user_text.strip()}\n{character_name}: {reply_text.strip()}"


def _seed_emotion(seed: SeedMemory) -> dict[str, float] | None:
    """A seed's emotion from the card, or None (= score it) when the card gives none."""
    return {str(name): float(value) for name, value in seed.emotion.items()} or None


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode("utf-8")).hexdigest()[:32]


def seed_id(text: str) -> str:
    return f"seed-{_digest(text.strip())}"


def note_id(text: str) -> str:
    return f"note-{_digest(text.strip())}"


def exchange_id(session_id: str, turn_index: int) -> str:
    return f"turn-{_digest(session_id, str(turn_index))}"


def scene_id(session_id: str, moment: str) -> str:
    return f"scene-{_digest(session_id, moment)}"
