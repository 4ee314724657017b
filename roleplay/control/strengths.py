"""Which attributes to steer and how hard: from the card, overridden per chat.

- Big Five scores (0..1) map to signed strengths around the neutral 0.5:
  ``strength = (score - 0.5) * 2``, so 0 -> -1 (the opposite pole), 0.5 -> 0, 1 -> +1.
- Other attributes come from the card's ``attributes: {sentiment: 0.5}`` field, as strengths.
- Per-chat overrides (``--steer extraversion=+1.0,sentiment=-0.5`` or a dict in the Python
  API) replace the card's value for the attributes they name; ``name=0`` switches one off.
- Every strength is then clipped to its fluency bound: the attribute's own bound for its
  sign (``max_strength: {positive: x, negative: y}`` in the attribute's file, measured by
  ``benchmarks/steering_fluency.py``), capped by the global ``max_strength`` of
  steering.yaml, which also applies where the attribute has no bound of its own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from roleplay.control.attributes import BIG_FIVE, FluencyBound
from roleplay.control.errors import ControlError, did_you_mean


def _check_name(name: str, known: Iterable[str], where: str) -> str:
    known = set(known)
    if name not in known:
        raise ControlError(f"{where}unknown attribute {name!r}{did_you_mean(name, known)}")
    return name


def _check_number(value: Any, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{where}strength of {name!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ControlError(f"{where}strength of {name!r} must be a finite number, got {value!r}")
    return number


def parse_steer_spec(text: str, known: Iterable[str]) -> dict[str, float]:
    """Parse ``"extraversion=+1.0, sentiment=-0.5"`` into ``{name: strength}``.

    Empty text gives ``{}``. Errors name the offending item, e.g.
    ``--steer: 'sentimnt' is not an attribute (did you mean 'sentiment'?)``.
    """
    known = sorted(known)
    result: dict[str, float] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            raise ControlError(
                f"--steer: expected NAME=STRENGTH, got {item!r} (e.g. sentiment=+0.5)"
            )
        _check_name(name, known, "--steer: ")
        try:
            number = float(value)
        except ValueError:
            raise ControlError(
                f"--steer: strength of {name!r} must be a number, got {value!r}"
            ) from None
        _check_number(number, name, "--steer: ")
        if name in result:
            raise ControlError(f"--steer: {name!r} is given twice")
        result[name] = number
    return result


def validate_strengths(strengths: Mapping[str, Any], known: Iterable[str]) -> dict[str, float]:
    """Check a strengths mapping from the Python API (names known, values finite numbers)."""
    known = sorted(known)
    return {
        _check_name(str(name), known, ""): _check_number(value, str(name), "")
        for name, value in strengths.items()
    }


def big_five_strength(score: float) -> float:
    """A Big Five score in [0, 1] as a signed strength in [-1, 1] (0.5 is neutral)."""
    return (score - 0.5) * 2.0


def strengths_from_card(card: Any, known: Iterable[str]) -> dict[str, float]:
    """Strengths a card asks for: its Big Five scores plus its ``attributes`` field.

    The card is read by duck typing (``card.personality.big_five.as_dict()`` and
    ``card.attributes``), so any object of that shape works and missing parts mean "none".
    """
    known = sorted(known)
    strengths: dict[str, float] = {}
    personality = getattr(card, "personality", None)
    big_five = getattr(personality, "big_five", None)
    if big_five is not None:
        scores = big_five.as_dict() if hasattr(big_five, "as_dict") else dict(big_five)
        for trait, score in scores.items():
            if trait in BIG_FIVE and score is not None:
                value = _check_number(score, trait, "card personality: ")
                if trait in known:
                    strengths[trait] = big_five_strength(value)
    attributes = getattr(card, "attributes", None) or {}
    for name, value in attributes.items():
        _check_name(str(name), known, "card attributes: ")
        strengths[str(name)] = _check_number(value, str(name), "card attributes: ")
    return strengths


@dataclass(frozen=True)
class ResolvedStrengths:
    strengths: dict[str, float]  # non-zero strengths in force, after clipping
    requested: dict[str, float]  # before clipping (for describe())
    sources: dict[str, str] = field(default_factory=dict)  # name -> "card" | "override"
    bounds: dict[str, float] = field(default_factory=dict)  # name -> the bound for its sign
    # The Big Five strengths before the cross-talk solve replaced them (empty: not decoupled).
    decoupled_from: dict[str, float] = field(default_factory=dict)

    @property
    def clipped(self) -> dict[str, float]:
        before_solve = {**self.strengths, **self.decoupled_from}
        return {n: v for n, v in self.requested.items() if before_solve.get(n, 0.0) != v and v}


def clip_strength(value: float, max_strength: float) -> float:
    """``value`` limited to ``±max_strength`` (the measured fluency bound)."""
    return max(-max_strength, min(max_strength, value))


def strength_bound(
    name: str,
    value: float,
    max_strength: float,
    bounds: Mapping[str, FluencyBound] | None = None,
) -> float:
    """The bound on |value| for attribute ``name``: its own bound for the sign of ``value``
    when it has one, never above the global ``max_strength``."""
    bound = (bounds or {}).get(name)
    own = bound.for_strength(value) if bound is not None else None
    return max_strength if own is None else min(own, max_strength)


def resolve_strengths(
    card: Any,
    overrides: Mapping[str, Any] | None,
    known: Iterable[str],
    *,
    max_strength: float,
    bounds: Mapping[str, FluencyBound] | None = None,
) -> ResolvedStrengths:
    """The card's strengths with ``overrides`` applied, each clipped to its fluency bound
    (``bounds``: each attribute's own per direction; ``max_strength``: the global cap)."""
    known = sorted(known)
    requested = strengths_from_card(card, known) if card is not None else {}
    sources = dict.fromkeys(requested, "card")
    for name, value in validate_strengths(overrides or {}, known).items():
        requested[name] = value
        sources[name] = "override"
    limits = {
        name: strength_bound(name, value, max_strength, bounds)
        for name, value in requested.items()
        if value != 0
    }
    clipped = {name: clip_strength(requested[name], limit) for name, limit in limits.items()}
    return ResolvedStrengths(strengths=clipped, requested=requested, sources=sources, bounds=limits)
