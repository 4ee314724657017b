"""The model's guess of who speaks next: ``log P("Name:" | transcript)`` per candidate.

The transcript is plain text ("Name: line" per line), the form in which scripts and chat
logs appear in pre-training data, so the model's continuation is a reasonable guess of the
next speaker label. Only the transcript's last tokens that fit the context window are used.
"""

from __future__ import annotations

from collections.abc import Sequence

from roleplay.dialogue.turns import Line, NextSpeakerScorer
from roleplay.evaluation.forward import continuation_logprobs, pad_token_id
from roleplay.evaluation.interview import ScoringEngine, token_ids

LABEL_ROOM_TOKENS = 32  # room left in the context window for the "Name:" label


def transcript_text(lines: Sequence[Line]) -> str:
    return "".join(f"{line.speaker}: {line.text}\n" for line in lines)


def model_speaker_scorer(engine: object) -> NextSpeakerScorer | None:
    """A scorer backed by the engine's model, or None for engines without logits."""
    if not all(hasattr(engine, name) for name in ("model", "tokenizer", "encode")):
        return None
    scoring: ScoringEngine = engine  # type: ignore[assignment]
    pad_id = pad_token_id(scoring.tokenizer)
    limit = max(int(getattr(engine, "context_window", 2048)) - LABEL_ROOM_TOKENS, 1)

    def score(lines: Sequence[Line], candidates: Sequence[str]) -> dict[str, float]:
        context = token_ids(scoring, transcript_text(lines))[-limit:]
        labels = [token_ids(scoring, f"{name}:") for name in candidates]
        values = continuation_logprobs(
            scoring.model,
            [context] * len(labels),
            labels,
            batch_size=len(labels),
            pad_id=pad_id,
        )
        return dict(zip(candidates, values, strict=True))

    return score
