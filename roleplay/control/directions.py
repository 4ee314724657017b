"""Directions from paired activations: mean difference (CAA) or first principal axis (repeng)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from roleplay.control.config import Method
from roleplay.control.errors import ControlError

if TYPE_CHECKING:
    import torch


def _differences(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    if positive.shape != negative.shape or positive.ndim != 2 or positive.shape[0] < 1:
        raise ControlError(
            f"expected two [pairs, hidden] tensors of the same shape, got "
            f"{tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    return positive.double() - negative.double()


def mean_difference_direction(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """Unit vector along the mean of ``positive[i] - negative[i]``."""
    mean = _differences(positive, negative).mean(0)
    norm = mean.norm()
    if norm == 0:
        raise ControlError("the two poles have identical activations; the pairs do not contrast")
    return (mean / norm).float()


def pca_direction(positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    """First principal axis of the pair differences, signed toward the positive pole.

    The axis is taken without centring, i.e. the principal axis of ``{d_i} ∪ {-d_i}``
    (repeng randomises each pair's order before its PCA for the same reason): centring would
    remove the shared mean difference, which is the signal.
    """
    import torch

    differences = _differences(positive, negative)
    _, _, right = torch.linalg.svd(differences, full_matrices=False)
    axis = right[0]
    if (differences @ axis).mean() < 0:
        axis = -axis
    return (axis / axis.norm()).float()


def direction_for(method: Method, positive: torch.Tensor, negative: torch.Tensor) -> torch.Tensor:
    if method == "pca":
        return pca_direction(positive, negative)
    return mean_difference_direction(positive, negative)


def pair_consistency(
    positive: torch.Tensor, negative: torch.Tensor, direction: torch.Tensor
) -> float:
    """Mean cosine between each pair's difference and ``direction`` (1 = all pairs agree)."""
    import torch

    differences = _differences(positive, negative).float()
    cosines = torch.nn.functional.cosine_similarity(differences, direction.unsqueeze(0), dim=1)
    return float(cosines.mean())
