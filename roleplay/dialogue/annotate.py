"""Per-utterance annotations for corpora: detected emotion and toxicity, each with its scorer.

The scorers belong to other packages (``roleplay.memory``'s emotion scorer,
``roleplay.safety``'s toxicity scorers); when one is missing its field is ``None``, never a
made-up number. Every number carries the name of the scorer that produced it, because the
offline toxicity fallback is not detoxify and its scale is not comparable.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from roleplay.cards.model import EMOTIONS

Annotation = dict[str, Any]


@dataclass
class Annotator:
    """Scores batches of utterances; either scorer may be absent."""

    emotion_scorer: Any | None = None
    emotion_name: str | None = None
    toxicity_scorer: Any | None = None
    toxicity_name: str | None = None

    def emotions(self, texts: Sequence[str]) -> list[Annotation | None]:
        if self.emotion_scorer is None or not texts:
            return [None] * len(texts)
        rows = self.emotion_scorer.score(list(texts))
        annotations: list[Annotation | None] = []
        for row in rows:
            scores = {
                name: round(float(value), 4) for name, value in zip(EMOTIONS, row, strict=True)
            }
            label = max(scores, key=lambda name: scores[name])
            annotations.append({"label": label, "scores": scores, "scorer": self.emotion_name})
        return annotations

    def toxicity(self, texts: Sequence[str]) -> list[Annotation | None]:
        if self.toxicity_scorer is None or not texts:
            return [None] * len(texts)
        scores = self.toxicity_scorer.score(list(texts))
        return [{"score": round(float(score), 4), "scorer": self.toxicity_name} for score in scores]


def _import(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def load_annotator(*, emotion: bool = True, toxicity: bool = True) -> Annotator:
    """The available scorers: the memory package's default emotion scorer and the safety
    package's toxicity scorer (detoxify when configured, else its named fallback)."""
    annotator = Annotator()
    scoring = _import("roleplay.memory.scoring") if emotion else None
    if scoring is not None:
        scorer = scoring.default_emotion_scorer()
        annotator.emotion_scorer = scorer
        annotator.emotion_name = type(scorer).__name__
    safety = _import("roleplay.safety") if toxicity else None
    if safety is not None:
        choice = safety.load_toxicity_scorer()
        annotator.toxicity_scorer = choice.scorer
        annotator.toxicity_name = getattr(choice, "description", None) or choice.scorer.name
    return annotator
