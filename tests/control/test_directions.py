"""Directions from paired activations."""

from __future__ import annotations

import pytest
import torch

from roleplay.control.directions import (
    direction_for,
    mean_difference_direction,
    pair_consistency,
    pca_direction,
)
from roleplay.control.errors import ControlError


def pairs(axis: torch.Tensor, count: int = 12, noise: float = 0.1) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    base = torch.randn(count, axis.shape[0], generator=generator)
    jitter = noise * torch.randn(count, axis.shape[0], generator=generator)
    return base + axis + jitter, base - axis


def test_mean_difference_recovers_the_axis() -> None:
    axis = torch.zeros(8)
    axis[3] = 2.0
    positive, negative = pairs(axis)
    direction = mean_difference_direction(positive, negative)
    assert float(direction.norm()) == pytest.approx(1.0)
    assert float(direction[3]) > 0.99
    assert pair_consistency(positive, negative, direction) > 0.95


def test_pca_points_to_the_positive_pole() -> None:
    axis = torch.zeros(8)
    axis[5] = -1.5
    positive, negative = pairs(axis)
    direction = pca_direction(positive, negative)
    assert float(direction[5]) < -0.99  # same sign as positive - negative
    assert torch.allclose(direction_for("pca", positive, negative), direction)


def test_bad_inputs() -> None:
    same = torch.ones(4, 8)
    with pytest.raises(ControlError, match="identical"):
        mean_difference_direction(same, same)
    with pytest.raises(ControlError, match="same shape"):
        mean_difference_direction(torch.ones(4, 8), torch.ones(3, 8))
