"""Steering settings from ``data/steering.yaml`` (layers, method, the measured strength bounds)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, TypeGuard

from roleplay.control.vectors import COMBINATIONS, Combination
from roleplay.errors import FileProblemsError, Problem
from roleplay.resources import package_path

Method = Literal["mean_difference", "pca"]
METHODS: tuple[Method, ...] = ("mean_difference", "pca")
# Which tokens the vectors act on: every token of the context, or only the reply's
# (the prompt, the character's earlier replies included, is computed unsteered).
Scope = Literal["all", "reply"]
SCOPES: tuple[Scope, ...] = ("all", "reply")
# Which strength an attribute's own fluency bound (its file's ``max_strength``) limits: the
# strength the card or chat asks for, or the strength it is steered at once the combined
# bound has scaled a card's summed vector down (roleplay/control/vectors.py).
BoundsOn = Literal["requested", "steered"]
BOUNDS_ON: tuple[BoundsOn, ...] = ("requested", "steered")


@dataclass(frozen=True)
class SteeringConfig:
    extraction_system_prompt: str
    layer_fractions: tuple[float, ...]
    method: Method
    unit_relative_norm: float
    max_strength: float
    max_combined_strength: float
    combination: Combination = "sum"
    scope: Scope = "all"
    # Steer the Big Five at strengths that cancel the vectors' measured cross-talk
    # (data/crosstalk.yaml, roleplay/control/decoupling.py) instead of the card's own.
    decouple_traits: bool = False
    attribute_bounds_on: BoundsOn = "requested"
    # Tokens over which the vectors halve during a reply (None: constant over the reply).
    reply_half_life: float | None = None


def config_path() -> Path:
    return package_path("roleplay.control", "data", "steering.yaml")


def _is_positive_number(value: Any) -> TypeGuard[int | float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and value > 0


def _number(data: dict[str, Any], key: str, path: str, problems: list[Problem]) -> float:
    value = data.get(key)
    if not _is_positive_number(value):
        problems.append(Problem(path, 1, 1, f"'{key}' must be a positive number"))
        return 1.0
    return float(value)


@cache
def load_config(path: Path | None = None) -> SteeringConfig:
    from ruamel.yaml import YAML

    source = path or config_path()
    data = YAML(typ="safe").load(source.read_text(encoding="utf-8")) or {}
    where = str(source)
    problems: list[Problem] = []
    fractions = data.get("layer_fractions")
    if not (
        isinstance(fractions, list)
        and fractions
        and all(isinstance(f, int | float) and 0 <= f <= 1 for f in fractions)
    ):
        problems.append(
            Problem(where, 1, 1, "'layer_fractions' must be a list of numbers in [0, 1]")
        )
        fractions = [0.5]
    method = data.get("method", "mean_difference")
    if method not in METHODS:
        problems.append(Problem(where, 1, 1, f"'method' must be one of {', '.join(METHODS)}"))
    combination = data.get("combination", "sum")
    if combination not in COMBINATIONS:
        problems.append(
            Problem(where, 1, 1, f"'combination' must be one of {', '.join(COMBINATIONS)}")
        )
    scope = data.get("scope", "all")
    if scope not in SCOPES:
        problems.append(Problem(where, 1, 1, f"'scope' must be one of {', '.join(SCOPES)}"))
    decouple = data.get("decouple_traits", False)
    if not isinstance(decouple, bool):
        problems.append(Problem(where, 1, 1, "'decouple_traits' must be true or false"))
    bounds_on = data.get("attribute_bounds_on", "requested")
    if bounds_on not in BOUNDS_ON:
        problems.append(
            Problem(where, 1, 1, f"'attribute_bounds_on' must be one of {', '.join(BOUNDS_ON)}")
        )
    half_life = data.get("reply_half_life")
    if half_life is not None and not _is_positive_number(half_life):
        problems.append(Problem(where, 1, 1, "'reply_half_life' must be null or a number > 0"))
    prompt = data.get("extraction_system_prompt", "")
    config = SteeringConfig(
        extraction_system_prompt=prompt if isinstance(prompt, str) else "",
        layer_fractions=tuple(float(f) for f in fractions),
        method=method if method in METHODS else "mean_difference",
        unit_relative_norm=_number(data, "unit_relative_norm", where, problems),
        max_strength=_number(data, "max_strength", where, problems),
        max_combined_strength=_number(data, "max_combined_strength", where, problems),
        combination=combination if combination in COMBINATIONS else "sum",
        scope=scope if scope in SCOPES else "all",
        decouple_traits=decouple is True,
        attribute_bounds_on=bounds_on if bounds_on in BOUNDS_ON else "requested",
        reply_half_life=float(half_life) if _is_positive_number(half_life) else None,
    )
    if problems:
        raise FileProblemsError(problems)
    return config
