"""Steering vectors: per-layer unit directions of an attribute, and how they are applied.

A vector stores, for each steered layer, the unit direction from the negative to the
positive pole and the layer's typical activation norm (median over answer tokens). A
strength ``s`` adds ``s * unit_relative_norm * scale[layer] * direction[layer]``: strengths
mean the same thing at every layer and in every model even though raw activation norms
differ by an order of magnitude between layers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from roleplay.control.errors import ControlError, did_you_mean
from roleplay.control.hooks import SteeringHandle, steering_applied

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


@dataclass(frozen=True)
class SteeringSet:
    """Vectors of several attributes for one model; strengths compose additively."""

    vectors: Mapping[str, SteeringVector]
    unit_relative_norm: float
    max_combined_strength: float | None = None
    combination: Combination = "sum"

    def combine(self, strengths: Mapping[str, float]) -> CombinedDeltas:
        """Every attribute's deltas made one per layer (``combination``), capped by the
        combined-strength bound.

        The cap compares the norm of the result at a layer with ``max_combined_strength``
        units of that layer's scale; past it the result is scaled down as a whole, which
        keeps the attributes' proportions while keeping the text fluent.
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
        totals: dict[int, torch.Tensor] = {}
        scales: dict[int, list[float]] = {}
        parts: dict[int, list[torch.Tensor]] = {}
        for name, strength in strengths.items():
            if strength == 0:
                continue
            vector = self.vectors[name]
            for layer, delta in vector.deltas(strength, self.unit_relative_norm).items():
                totals[layer] = totals[layer] + delta if layer in totals else delta.clone()
                scales.setdefault(layer, []).append(vector.layer_scales[layer])
                parts.setdefault(layer, []).append(delta)
        if self.combination == "decorrelated":
            totals = {layer: decorrelated_sum(deltas) for layer, deltas in parts.items()}
        rescaled: dict[int, float] = {}
        if self.max_combined_strength is not None:
            for layer, total in totals.items():
                scale = sum(scales[layer]) / len(scales[layer])
                limit = self.max_combined_strength * self.unit_relative_norm * scale
                norm = float(total.norm())
                if norm > limit > 0:
                    rescaled[layer] = limit / norm
                    totals[layer] = total * (limit / norm)
        return CombinedDeltas(totals, rescaled)

    @contextmanager
    def apply(self, model: nn.Module, strengths: Mapping[str, float]) -> Iterator[SteeringHandle]:
        """Steer ``model`` with all given attributes at once inside the ``with`` block."""
        with steering_applied(model, self.combine(strengths).deltas) as handle:
            yield handle


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
