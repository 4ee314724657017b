"""Steering as prompt guidance, for backends without hidden states (remote servers).

A server backend cannot add vectors to the residual stream, so the resolved strengths are
described to the model in words instead, one line per attribute (phrasing in
``data/prompt_steering.yaml``). This is weaker than activation steering and is reported as
the method "prompt" wherever the steering is described.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from roleplay.control.attributes import AttributeSpec

_VERSUS = ", versus "


@cache
def _phrasing() -> dict[str, Any]:
    from ruamel.yaml import YAML

    path = resources.files("roleplay.control") / "data" / "prompt_steering.yaml"
    data = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "prompt_steering.yaml must be a mapping"
    return data


def poles(spec: AttributeSpec) -> tuple[str, str]:
    """(positive pole, negative pole) in words, from the attribute's description."""
    text = spec.description.strip().rstrip(".")
    if _VERSUS in text:
        positive, negative = text.split(_VERSUS, 1)
        return positive.strip(), negative.strip()
    return spec.positive, spec.negative


def _degree(strength: float) -> str:
    word = ""
    for step in _phrasing()["degrees"]:
        if abs(strength) >= float(step["min"]):
            word = str(step["word"])
    return word


def guidance_lines(strengths: Mapping[str, float], specs: Mapping[str, AttributeSpec]) -> list[str]:
    """One sentence per non-zero strength, strongest first."""
    template = str(_phrasing()["template"])
    lines = []
    for name, strength in sorted(strengths.items(), key=lambda item: -abs(item[1])):
        if strength == 0 or name not in specs:
            continue
        positive, negative = poles(specs[name])
        pole = positive if strength > 0 else negative
        lines.append(
            template.format(degree=_degree(strength), pole=pole[0].lower() + pole[1:]) + "."
        )
    return lines
