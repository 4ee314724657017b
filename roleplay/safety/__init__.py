"""Safety scorers shared by the chat pipeline (flagging replies) and the bias audit."""

from roleplay.safety.toxicity import (
    DetoxifyScorer,
    ProfanityCheckScorer,
    ScorerChoice,
    ToxicityScorer,
    load_toxicity_scorer,
)

__all__ = [
    "DetoxifyScorer",
    "ProfanityCheckScorer",
    "ScorerChoice",
    "ToxicityScorer",
    "load_toxicity_scorer",
]
