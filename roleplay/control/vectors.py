"""Steering vectors: per-layer unit directions of an attribute, and how they are applied.

A vector stores, for each steered layer, the unit direction from the negative to the
positive pole and the layer's typical activation norm (median over answer tokens). A
strength ``s`` adds ``s * unit_relative_norm * scale[layer] * direction[layer]``: strengths
mean the same thing at every layer and in every model even though raw activation norms
differ by an order of magnitude between layers.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from roleplay.control.errors import ControlError, did_you_mean
from roleplay.control.hooks import SteeringHandle, steering_applied
from roleplay.control.strengths import clip_strength

if TYPE_CHECKING:
    import torch
    from torch import nn


@dataclass(frozen=True)
class SteeringVector:
    attribute: str
    model_id: str
    directions: Mapping[int, torch.Tensor]  # layer index -> unit vector [hidden]
    layer_scales: Mapping[int, float]  # layer index -> median token-activation norm
    method: str = "mean_difference"
    stats: Mapping[str, float] = field(default_factory=dict)  # build diagnostics

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted(self.directions))

    def deltas(self, strength: float, unit_relative_norm: float) -> dict[int, torch.Tensor]:
        """The vector added at each layer for ``strength``."""
        return {
            layer: direction * (strength * unit_relative_norm * self.layer_scales[layer])
            for layer, direction in self.directions.items()
        }

    @contextmanager
    def apply(
        self, model: nn.Module, strength: float = 1.0, *, unit_relative_norm: float = 1.0
    ) -> Iterator[SteeringHandle]:
        """Steer ``model`` with this vector alone inside the ``with`` block."""
        with steering_applied(model, self.deltas(strength, unit_relative_norm)) as handle:
            yield handle


# How several attributes' vectors make one per layer. ``sum``: add them (an attribute's
# vector also moves the others' directions by their cosine: on the default model up to
# +-0.29, neuroticism against agreeableness and openness). ``decorrelated``: the smallest
# vector whose projection on each attribute's own direction is exactly that attribute's
# strength, so no attribute adds to or takes from another's.
Combination = Literal["sum", "decorrelated"]
COMBINATIONS: tuple[Combination, ...] = ("sum", "decorrelated")


@dataclass(frozen=True)
class CombinedDeltas:
    deltas: dict[int, torch.Tensor]
    rescaled_layers: dict[int, float]  # layer -> factor applied to respect the combined bound
    # layer -> the strength each attribute is steered at there: the strength given, times the
    # combined bound's factor, limited to the attribute's own bound when one was given.
    steered: dict[int, dict[str, float]] = field(default_factory=dict)
    limited: tuple[str, ...] = ()  # attributes their own bound limited at some layer


@dataclass(frozen=True)
class SteeringSet:
    """Vectors of several attributes for one model; strengths compose additively."""

    vectors: Mapping[str, SteeringVector]
    unit_relative_norm: float
    max_combined_strength: float | None = None
    combination: Combination = "sum"

    def combine(
        self, strengths: Mapping[str, float], bounds: Mapping[str, float] | None = None
    ) -> CombinedDeltas:
        """Every attribute's deltas made one per layer (``combination``), capped by the
        combined-strength bound and, with ``bounds``, each attribute by its own.

        The cap compares the norm of the result at a layer with ``max_combined_strength``
        units of that layer's scale; past it the result is scaled down as a whole, which
        keeps the attributes' proportions while keeping the text fluent. ``bounds`` (name ->
        largest |strength|) then limits each attribute's strength *as steered*, i.e. after
        that scaling: a fluency bound measured on one attribute alone limits what that
        attribute adds, not what a card asks before the whole sum is scaled down.
        """
        unknown = [name for name in strengths if name not in self.vectors]
        if unknown:
            raise ControlError(
                f"no steering vector for {unknown[0]!r}{did_you_mean(unknown[0], self.vectors)}"
            )
        if self.combination not in COMBINATIONS:
            raise ControlError(
                f"unknown steering combination {self.combination!r}; "
                f"use one of {', '.join(COMBINATIONS)}"
            )
        live = {name: s for name, s in strengths.items() if s != 0}
        totals = self._totals(live)
        factors = {layer: self._bound_factor(layer, total, live) for layer, total in totals.items()}
        deltas: dict[int, torch.Tensor] = {}
        steered: dict[int, dict[str, float]] = {}
        limited_names: set[str] = set()
        for layer, total in totals.items():
            factor = factors[layer]
            at_layer = {n: s for n, s in live.items() if layer in self.vectors[n].directions}
            scaled = {n: s * factor for n, s in at_layer.items()}
            limited = {
                n: clip_strength(s, (bounds or {}).get(n, math.inf)) for n, s in scaled.items()
            }
            if limited == scaled:
                deltas[layer], steered[layer] = total * factor, scaled
                continue
            limited_names.update(n for n in scaled if limited[n] != scaled[n])
            # Limiting some attributes shrinks the sum; it is capped again in case
            # anti-correlated directions made it longer.
            total = self._totals(limited)[layer]
            again = self._bound_factor(layer, total, limited)
            deltas[layer] = total * again
            steered[layer] = {n: s * again for n, s in limited.items()}
        rescaled = {layer: f for layer, f in factors.items() if f < 1}
        return CombinedDeltas(deltas, rescaled, steered, tuple(sorted(limited_names)))

    def _totals(self, strengths: Mapping[str, float]) -> dict[int, torch.Tensor]:
        """The attributes' deltas made one per layer, before any bound."""
        parts: dict[int, list[torch.Tensor]] = {}
        for name, strength in strengths.items():
            vector = self.vectors[name]
            for layer, delta in vector.deltas(strength, self.unit_relative_norm).items():
                parts.setdefault(layer, []).append(delta)
        if self.combination == "decorrelated":
            return {layer: decorrelated_sum(deltas) for layer, deltas in parts.items()}
        return {layer: _summed(deltas) for layer, deltas in parts.items()}

    def _bound_factor(
        self, layer: int, total: torch.Tensor, strengths: Mapping[str, float]
    ) -> float:
        """The factor (at most 1) that brings ``total`` within the combined bound at ``layer``
        (its unit: the mean scale of the attributes steered there)."""
        if self.max_combined_strength is None:
            return 1.0
        scales = [
            self.vectors[n].layer_scales[layer]
            for n in strengths
            if layer in self.vectors[n].layer_scales
        ]
        limit = self.max_combined_strength * self.unit_relative_norm * sum(scales) / len(scales)
        norm = float(total.norm())
        return limit / norm if norm > limit > 0 else 1.0

    @contextmanager
    def apply(self, model: nn.Module, strengths: Mapping[str, float]) -> Iterator[SteeringHandle]:
        """Steer ``model`` with all given attributes at once inside the ``with`` block."""
        with steering_applied(model, self.combine(strengths).deltas) as handle:
            yield handle


def _summed(deltas: list[torch.Tensor]) -> torch.Tensor:
    total = deltas[0].clone()
    for delta in deltas[1:]:
        total = total + delta
    return total


def decorrelated_sum(deltas: list[torch.Tensor]) -> torch.Tensor:
    """The smallest vector whose projection on each delta's direction equals that delta's
    length: ``x = D^T (D D^T)^+ t`` for unit directions ``D`` and lengths ``t``. With
    orthogonal directions it is the plain sum; directions that (almost) coincide are
    handled by the pseudo-inverse instead of blowing up."""
    import torch

    if len(deltas) == 1:
        return deltas[0].clone()
    stacked = torch.stack([delta.double() for delta in deltas])
    lengths = stacked.norm(dim=1)
    live = lengths > 0
    directions = stacked[live] / lengths[live, None]
    gram = directions @ directions.T
    weights = torch.linalg.pinv(gram, hermitian=True, rtol=1e-6) @ lengths[live]
    return (weights @ directions).to(deltas[0].dtype)
