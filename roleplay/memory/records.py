"""What the memory package hands out: stored and recalled memories."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MetadataValue = str | int | float | bool


@dataclass(frozen=True)
class MemoryRecord:
    """One stored memory. ``metadata`` holds kind, speaker, session, turn and timestamp."""

    id: str
    text: str
    emotion: dict[str, float]
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "emotion": self.emotion, **self.metadata}


@dataclass(frozen=True)
class RecalledMemory:
    """A memory returned by ``recall``: its final score and the two components behind it.

    ``semantic`` is the cosine similarity of the memory to the query, ``emotional`` the
    cosine similarity of its emotion to the mood; ``score`` is the strategy's ranking key.
    """

    id: str
    text: str
    score: float
    emotion: dict[str, float]
    semantic: float
    emotional: float
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The CLI's JSON shape: ``{"id", "text", "score", "emotion"}``."""
        return {"id": self.id, "text": self.text, "score": self.score, "emotion": self.emotion}
