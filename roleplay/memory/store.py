"""One character's memories in Chroma: a text collection and a small emotion index.

- ``mem-<slug>`` holds each memory's text, its MiniLM embedding (cosine space) and metadata:
  the emotion vector and the scorer's raw scores (``emotion``, JSON; see
  ``emotions.EMOTION_METADATA_KEY``), kind, speaker, session id, turn index and timestamp.
- ``emo-<slug>`` holds the same ids with their emotion vectors as 8-d embeddings, so the
  emotion-first strategy (``s-s``) can ask Chroma for the memories closest to a mood
  instead of scanning every memory.

The slug comes from ``roleplay.paths.safe_slug``: ASCII, at most 48 readable characters
plus a hash of the full name, so any Unicode name yields a valid Chroma collection name
(3-63 characters of ``[a-z0-9-]``, alphanumeric at both ends) and two characters never
share one. The emotion index is written before the text collection, so an interrupted
write can only leave an orphan in the index, which reads skip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from roleplay.memory.chroma_client import chroma_errors, open_client
from roleplay.memory.emotions import (
    EMOTION_COUNT,
    EMOTION_METADATA_KEY,
    LEGACY_EMOTION_KEYS,
    RAW_EMOTION_KEY,
    emotion_dict,
    emotion_from_metadata,
    emotion_metadata,
    encode_vector,
    raw_emotion_from_metadata,
)
from roleplay.memory.records import MemoryRecord, MetadataValue
from roleplay.paths import safe_slug

if TYPE_CHECKING:
    from chromadb.api import ClientAPI
    from chromadb.api.collection_configuration import CreateHNSWConfiguration
    from chromadb.api.models.Collection import Collection

# Chroma accepts larger batches, but the write of one batch holds the SQLite write lock;
# 1,000 keeps each lock short while amortising the per-call overhead.
WRITE_BATCH = 1000
# Shown as the record's emotion dict, not among its other metadata.
_EMOTION_ENTRIES = frozenset({EMOTION_METADATA_KEY, RAW_EMOTION_KEY, *LEGACY_EMOTION_KEYS})
# HNSW build settings for new collections (reopened ones keep theirs). Measured at 40k
# memories (BENCHMARKS.md, Memory): the text index at ef_construction 50 instead of
# Chroma's 100 found 99.9% of the exact 32 nearest (100: 99.97%); the 8-d emotion index with
# 8 neighbours and ef_construction 16 found 99.8% of the exact 20 nearest. Together they cut
# a write from 0.95 to 0.71 ms per memory; queries keep Chroma's ef_search of 100.
TEXT_INDEX: CreateHNSWConfiguration = {"space": "cosine", "ef_construction": 50}
EMOTION_INDEX: CreateHNSWConfiguration = {
    "space": "cosine",
    "ef_construction": 16,
    "max_neighbors": 8,
}
# A zero emotion vector has no direction; cosine distance in the index needs one.
_INDEX_EPSILON = 1e-6


def collection_names(character: str) -> tuple[str, str]:
    """(text collection, emotion index) names for a character name."""
    slug = safe_slug(character)
    return f"mem-{slug}", f"emo-{slug}"


@dataclass(frozen=True)
class NewMemory:
    """A memory to write, with everything computed: the store does no embedding itself."""

    id: str
    text: str
    embedding: np.ndarray
    emotion: np.ndarray
    raw_emotion: np.ndarray
    metadata: dict[str, MetadataValue]


@dataclass(frozen=True)
class Candidates:
    """Memories fetched for ranking: parallel lists, their cosine similarity to the query
    (n,) and their emotion vectors (n, 8)."""

    ids: list[str]
    texts: list[str]
    metadatas: list[dict[str, MetadataValue]]
    semantic: np.ndarray
    emotions: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: Sequence[bool]) -> Candidates:
        """The candidates whose ``keep`` is true, in order."""
        rows = [row for row, wanted in enumerate(keep) if wanted]
        if not rows:
            return _empty_candidates()
        return Candidates(
            ids=[self.ids[row] for row in rows],
            texts=[self.texts[row] for row in rows],
            metadatas=[self.metadatas[row] for row in rows],
            semantic=self.semantic[rows],
            emotions=self.emotions[rows],
        )


def _empty_candidates() -> Candidates:
    return Candidates([], [], [], np.zeros(0), np.zeros((0, EMOTION_COUNT), np.float32))


class MemoryStore:
    """Reads and writes one character's memories; every Chroma call is error-translated."""

    def __init__(
        self, character: str, *, chroma_url: str | None = None, folder: Path | None = None
    ) -> None:
        """``folder``: a local store other than the user's (an evaluation's scratch store)."""
        self.character = character
        self.chroma_url = chroma_url
        self.folder = folder
        self.text_collection_name, self.emotion_index_name = collection_names(character)

    @cached_property
    def client(self) -> ClientAPI:
        return open_client(self.chroma_url, folder=self.folder)

    @cached_property
    def _texts(self) -> Collection:
        from roleplay.memory.embedding_function import MiniLMEmbeddingFunction

        with chroma_errors(f"open the memories of {self.character}"):
            return self.client.get_or_create_collection(
                self.text_collection_name,
                # Always explicit: a reopened collection would otherwise use Chroma's
                # default embedding function, which downloads a model.
                embedding_function=MiniLMEmbeddingFunction(),  # type: ignore[arg-type]
                configuration={"hnsw": TEXT_INDEX},
                metadata={"character": self.character},
            )

    @cached_property
    def _emotion_index(self) -> Collection:
        with chroma_errors(f"open the emotion index of {self.character}"):
            return self.client.get_or_create_collection(
                self.emotion_index_name,
                embedding_function=None,
                configuration={"hnsw": EMOTION_INDEX},
                metadata={"character": self.character},
            )

    def count(self) -> int:
        with chroma_errors("count memories"):
            return int(self._texts.count())

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        with chroma_errors("look up memories"):
            return set(self._texts.get(ids=list(ids), include=[])["ids"])

    def write(self, memories: Sequence[NewMemory]) -> None:
        """Insert or replace memories (same id = same memory)."""
        for start in range(0, len(memories), WRITE_BATCH):
            batch = memories[start : start + WRITE_BATCH]
            ids = [memory.id for memory in batch]
            emotions = np.stack([memory.emotion for memory in batch])
            with chroma_errors("store memories"):
                self._emotion_index.upsert(ids=ids, embeddings=_index_vectors(emotions))
                self._texts.upsert(
                    ids=ids,
                    embeddings=np.stack([memory.embedding for memory in batch]).astype(np.float32),
                    documents=[memory.text for memory in batch],
                    metadatas=[_metadata(memory) for memory in batch],  # type: ignore[misc]
                )

    def records(self, ids: Sequence[str] | None = None) -> list[MemoryRecord]:
        """Stored memories (all, or the given ids), oldest first."""
        with chroma_errors("read memories"):
            result = self._texts.get(
                ids=list(ids) if ids is not None else None, include=["documents", "metadatas"]
            )
        records = [
            _record(memory_id, text or "", dict(metadata or {}))
            for memory_id, text, metadata in zip(
                result["ids"], result["documents"] or [], result["metadatas"] or [], strict=True
            )
        ]
        return sorted(records, key=lambda r: (float(r.metadata.get("timestamp", 0.0)), r.id))

    def delete(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with chroma_errors("forget memories"):
            self._texts.delete(ids=list(ids))
            self._emotion_index.delete(ids=list(ids))

    def delete_all(self) -> None:
        """Drop both collections of this character (other characters are untouched)."""
        with chroma_errors(f"forget the memories of {self.character}"):
            existing = {collection.name for collection in self.client.list_collections()}
            for name in (self.text_collection_name, self.emotion_index_name):
                if name in existing:
                    self.client.delete_collection(name)
        for attribute in ("_texts", "_emotion_index"):
            self.__dict__.pop(attribute, None)

    def nearest_by_text(
        self, query: np.ndarray, n: int, where: Mapping[str, Any] | None = None
    ) -> Candidates:
        """The ``n`` memories closest to a query embedding (among those matching Chroma's
        metadata filter ``where``, when given)."""
        with chroma_errors("search memories"):
            result = self._texts.query(
                query_embeddings=query[None, :].astype(np.float32),
                n_results=n,
                where=dict(where) if where else None,
                # Cosine distances, not the 384-d vectors: a fraction of the data to move.
                include=["documents", "metadatas", "distances"],
            )
        distances = np.asarray((result["distances"] or [[]])[0], dtype=np.float64)
        return _candidates(
            result["ids"][0],
            (result["documents"] or [[]])[0],
            (result["metadatas"] or [[]])[0],
            semantic=1.0 - distances,
        )

    def nearest_by_emotion(self, mood: np.ndarray, n: int, query: np.ndarray) -> Candidates:
        """The ``n`` memories whose emotion points most the way of the mood."""
        with chroma_errors("search memories by emotion"):
            ids = self._emotion_index.query(
                query_embeddings=_index_vectors(mood[None, :]), n_results=n, include=[]
            )["ids"][0]
            if not ids:
                return _empty_candidates()
            result = self._texts.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        count = len(result["ids"])
        embeddings = np.asarray(result["embeddings"], dtype=np.float64).reshape(count, -1)
        return _candidates(
            result["ids"],
            result["documents"] or [],
            result["metadatas"] or [],
            semantic=embeddings @ query.astype(np.float64),
        )


def _index_vectors(emotions: np.ndarray) -> np.ndarray:
    return np.asarray(emotions + _INDEX_EPSILON, dtype=np.float32)


def _metadata(memory: NewMemory) -> dict[str, MetadataValue]:
    entries: dict[str, MetadataValue] = dict(memory.metadata)
    entries.update(emotion_metadata(memory.emotion, memory.raw_emotion))
    return entries


def _record(memory_id: str, text: str, metadata: dict[str, Any]) -> MemoryRecord:
    emotion = emotion_dict(emotion_from_metadata(metadata))
    visible = {
        key: value
        for key, value in metadata.items()
        if key not in _EMOTION_ENTRIES and isinstance(value, str | int | float | bool)
    }
    raw = raw_emotion_from_metadata(metadata)
    if raw is not None:
        # The scorer's raw scores, kept so a later recalibration can rescore every memory
        # without re-embedding anything; shown under their old entry's name.
        visible[RAW_EMOTION_KEY] = encode_vector(raw)
    return MemoryRecord(memory_id, text, emotion, visible)


def _candidates(
    ids: list[str], texts: list[Any], metadatas: list[Any], *, semantic: np.ndarray
) -> Candidates:
    if not ids:
        return _empty_candidates()
    metadata_dicts = [dict(metadata or {}) for metadata in metadatas]
    return Candidates(
        ids=list(ids),
        texts=[text or "" for text in texts],
        metadatas=metadata_dicts,
        semantic=semantic,
        emotions=np.stack([emotion_from_metadata(metadata) for metadata in metadata_dicts]),
    )
