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
from typing import TYPE_CHECKING

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

    def combine(self, strengths: Mapping[str, float]) -> CombinedDeltas:
        """Sum of every attribute's deltas per layer, capped by the combined-strength bound.

        The cap compares the norm of the sum at a layer with ``max_combined_strength`` units
        of that layer's scale; past it the sum is scaled down as a whole, which keeps the
        attributes' proportions while keeping the text fluent.
        """
        unknown = [name for name in strengths if name not in self.vectors]
        if unknown:
            raise ControlError(
                f"no steering vector for {unknown[0]!r}{did_you_mean(unknown[0], self.vectors)}"
            )
        totals: dict[int, torch.Tensor] = {}
        scales: dict[int, list[float]] = {}
        for name, strength in strengths.items():
            if strength == 0:
                continue
            vector = self.vectors[name]
            for layer, delta in vector.deltas(strength, self.unit_relative_norm).items():
                totals[layer] = totals[layer] + delta if layer in totals else delta.clone()
                scales.setdefault(layer, []).append(vector.layer_scales[layer])
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
