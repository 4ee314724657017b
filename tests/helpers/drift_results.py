"""Hand-made drift results in the shape ``benchmarks/persona_drift.py`` writes them, for
the tests of the scripts that read them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

TRAITS = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


def drift_result(
    condition: str,
    turns: int,
    rights: Mapping[str, Sequence[bool]],
    traits: Sequence[str] = TRAITS,
    abs_error: float = 0.2,
    uncounted: Collection[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One ``report["results"]`` entry: per character, each trait right or not, counted
    unless (character, trait) is in ``uncounted`` (a card at the midpoint)."""
    return {
        "condition": condition,
        "turns": turns,
        "characters": [
            {
                "name": name,
                "traits": {
                    trait: {
                        "counted": (name, trait) not in uncounted,
                        "correct": right,
                        "abs_error": abs_error,
                    }
                    for trait, right in zip(traits, marks, strict=True)
                },
            }
            for name, marks in rights.items()
        ],
    }
