"""Hand-made drift results in the shape ``benchmarks/persona_drift.py`` writes them, for
the tests of the scripts that read them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def drift_result(
    condition: str,
    turns: int,
    rights: Mapping[str, Sequence[bool]],
    traits: Sequence[str] = TRAITS,
    abs_error: float = 0.2,
) -> dict[str, Any]:
    """One ``report["results"]`` entry: per character, each trait counted and right or not."""
    return {
        "condition": condition,
        "turns": turns,
        "characters": [
            {
                "name": name,
                "traits": {
                    trait: {"counted": True, "correct": right, "abs_error": abs_error}
                    for trait, right in zip(traits, marks, strict=True)
                },
            }
            for name, marks in rights.items()
        ],
    }
