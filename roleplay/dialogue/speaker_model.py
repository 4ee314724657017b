"""The model's guess of who speaks next: ``log P("Name:" | transcript)`` per candidate.

The transcript is plain text ("Name: line" per line), the form in which scripts and chat
logs appear in pre-training data, so the model's continuation is a reasonable guess of the
next speaker label. Only the transcript's last tokens that fit the context window are used.
"""

from __future__ import annotations

from collections.abc import Sequence

from roleplay.dialogue.turns import Line, NextSpeakerScorer
from roleplay.engine.scorer import scorer_for
from roleplay.errors import RoleplayError

LABEL_ROOM_TOKENS = 32  # room left in the context window for the "Name:" label


def transcript_text(lines: Sequence[Line]) -> str:
    return "".join(f"{line.speaker}: {line.text}\n" for line in lines)


def model_speaker_scorer(engine: object) -> NextSpeakerScorer | None:
    """A scorer backed by the engine's model, or None for engines without logits."""
    try:
        scorer = scorer_for(engine)
    except RoleplayError:
        return None
    limit = max(int(getattr(engine, "context_window", 2048)) - LABEL_ROOM_TOKENS, 1)

    def score(lines: Sequence[Line], candidates: Sequence[str]) -> dict[str, float]:
        context = scorer.token_ids(transcript_text(lines))[-limit:]
        labels = [scorer.token_ids(f"{name}:") for name in candidates]
        values = scorer.continuation_logprobs(
            [context] * len(labels), labels, batch_size=len(labels), rows_done=None
        )
        return dict(zip(candidates, values, strict=True))

    return score
