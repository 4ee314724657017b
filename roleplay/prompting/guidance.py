"""Personality guidance: Big Five levels and MBTI letters turned into prompt lines (data-driven)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

from ruamel.yaml import YAML

from roleplay.cards.personality import trait_level

BIG_FIVE_ORDER = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")


@cache
def _data(name: str) -> dict[str, Any]:
    text = resources.files("roleplay.prompting").joinpath("data", name).read_text("utf-8")
    loaded = YAML(typ="safe").load(text)
    assert isinstance(loaded, dict), f"{name} must be a mapping"
    return loaded


def personality_lines(big_five: dict[str, float]) -> list[str]:
    """One behavioural sentence per trait, chosen by the trait's level."""
    guidance = _data("personality_guidance.yaml")
    return [guidance[trait][trait_level(big_five[trait])] for trait in BIG_FIVE_ORDER]


def mbti_summary(mbti: str) -> str:
    letters = _data("mbti_letters.yaml")
    return ", ".join(letters[letter] for letter in mbti.upper())
