"""Symmetric per-output-channel int8 weights, for the int8 sentence encoder.

Each output row gets its own float32 scale (max |row| / 127), so one large row does not
coarsen the others. This module imports torch at the top: import it lazily (the encoder
does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class QuantizedWeight:
    """A weight matrix as int8 values and one float32 scale per output row."""

    values: torch.Tensor  # int8, [out_features, in_features]
    scale: torch.Tensor  # float32, [out_features]


def quantize_weight(weight: torch.Tensor) -> QuantizedWeight:
    """Symmetric per-output-channel int8: row / (max|row| / 127), rounded."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1) / 127.0
    # An all-zero row would divide by zero; any positive scale reproduces its zeros exactly.
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    values = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return QuantizedWeight(values=values.contiguous(), scale=scale.contiguous())
