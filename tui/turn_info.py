"""What the side panel shows about one reply, from a live turn or from a stored message.

A live turn has the full ``PreparedTurn`` (memory texts included); a stored reply only has
the metadata the pipeline saved with it (memory ids and scores). Both become a ``TurnInfo``,
so the panel has one input. Every field may be empty: mood, memories and steering appear
only once those features produce data, and a toxicity verdict only when a scorer set one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from roleplay.engine.base import GenerationStats
    from roleplay.pipeline import PreparedTurn


@dataclass(frozen=True)
class RecalledMemory:
    score: float
    text: str  # the memory's text, or its id when only the id was stored


@dataclass(frozen=True)
class Toxicity:
    score: float
    flagged: bool
    scorer: str


@dataclass(frozen=True)
class TurnInfo:
    mood: dict[str, float] = field(default_factory=dict)
    memories: tuple[RecalledMemory, ...] = ()
    controls: Mapping[str, Any] = field(default_factory=dict)
    tokens: int | None = None
    tokens_per_second: float | None = None
    prompt_tokens: int | None = None
    stop_reason: str | None = None
    interrupted: bool = False
    toxicity: Toxicity | None = None


def _number(value: Any) -> float | None:
    # bool is an int subclass, and a flag is not a score.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _mood(raw: Any) -> dict[str, float]:
    if not isinstance(raw, Mapping):
        return {}
    mood = {str(name): _number(value) for name, value in raw.items()}
    return {name: value for name, value in mood.items() if value is not None}


def toxicity_of(metadata: Mapping[str, Any]) -> Toxicity | None:
    """The scorer's verdict stored on a reply (``{"score", "flagged", "scorer"}``), if any."""
    raw = metadata.get("toxicity")
    if not isinstance(raw, Mapping):
        return None
    score = _number(raw.get("score"))
    return Toxicity(
        score=score if score is not None else 0.0,
        flagged=bool(raw.get("flagged", False)),
        scorer=str(raw.get("scorer", "")),
    )


def from_prepared(
    prepared: PreparedTurn,
    stats: GenerationStats | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> TurnInfo:
    """A live turn: before the reply (no ``stats``) or after it."""
    meta = metadata or {}
    return TurnInfo(
        mood=_mood(prepared.mood),
        memories=tuple(RecalledMemory(m.score, m.text) for m in prepared.prompt.memories),
        controls=dict(prepared.controls),
        tokens=stats.new_tokens if stats else None,
        tokens_per_second=stats.tokens_per_second if stats else None,
        prompt_tokens=prepared.prompt.prompt_tokens,
        stop_reason=stats.stop_reason if stats else None,
        interrupted=bool(meta.get("interrupted", False)),
        toxicity=toxicity_of(meta),
    )


def from_metadata(metadata: Mapping[str, Any]) -> TurnInfo:
    """A stored reply (a greeting has no metadata, so everything stays empty)."""
    memories: list[RecalledMemory] = []
    raw_memories = metadata.get("memories")
    for entry in raw_memories if isinstance(raw_memories, list) else []:
        if isinstance(entry, Mapping):
            score = _number(entry.get("score"))
            label = str(entry.get("text") or entry.get("id") or "?")
            memories.append(RecalledMemory(score if score is not None else 0.0, label))
    tokens = metadata.get("tokens")
    seconds = _number(metadata.get("seconds"))
    prompt_tokens = metadata.get("prompt_tokens")
    controls = metadata.get("controls")
    return TurnInfo(
        mood=_mood(metadata.get("mood")),
        memories=tuple(memories),
        controls=dict(controls) if isinstance(controls, Mapping) else {},
        tokens=tokens if isinstance(tokens, int) else None,
        tokens_per_second=(
            tokens / seconds if isinstance(tokens, int) and seconds and seconds > 0 else None
        ),
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        stop_reason=str(metadata["stop_reason"]) if "stop_reason" in metadata else None,
        interrupted=bool(metadata.get("interrupted", False)),
        toxicity=toxicity_of(metadata),
    )


STEERING_METHODS = {
    "control_vectors": "as llama.cpp control vectors",
    "hooks": "as hooks on the model's layers",
    "prompt": "as prompt guidance (no hidden states)",
}


def steering_method(controls: Mapping[str, Any]) -> str:
    """How the steering reached the model, in words ("" when the controls do not say)."""
    steering = controls.get("steering")
    method = steering.get("method") if isinstance(steering, Mapping) else None
    return STEERING_METHODS.get(str(method), "") if method else ""


def steering_strengths(controls: Mapping[str, Any]) -> tuple[dict[str, float], float]:
    """The strengths in force and the largest allowed, from a controller's ``describe()``.

    ``{"steering": {"strengths": {...}, "max_strength": m}}`` is the controller's shape; a
    flat ``{attribute: strength}`` mapping is accepted too.
    """
    steering = controls.get("steering")
    source: Any = steering.get("strengths") if isinstance(steering, Mapping) else controls
    if isinstance(steering, Mapping) and steering.get("method") == "prompt":
        source = steering.get("requested")  # given to the model as words, not vectors
    limit = _number(steering.get("max_strength")) if isinstance(steering, Mapping) else None
    strengths: dict[str, float] = {}
    if isinstance(source, Mapping):
        for name, value in source.items():
            number = _number(value)
            if number is not None:
                strengths[str(name)] = number
    largest = max((abs(v) for v in strengths.values()), default=0.0)
    return strengths, max(limit or 1.0, largest)


def decoding_summary(controls: Mapping[str, Any]) -> list[str]:
    """Short lines for the decoding controls in force (penalties, bans, grammar)."""
    decoding = controls.get("decoding")
    if not isinstance(decoding, Mapping):
        return []
    lines: list[str] = []
    for name, value in decoding.items():
        if value in (None, 0, 0.0, [], "", False):
            continue
        shown = f"{len(value)} phrases" if isinstance(value, list) else str(value)
        lines.append(f"{str(name).replace('_', ' ')}: {shown}")
    return lines
