"""One decoder layer's decode step (one new token) as a TorchScript function.

Why: decoding one token runs ~35 small operators per layer, and from Python each costs a few
microseconds of interpreter and dispatch overhead on top of its tiny kernel; at 30 layers
that overhead was ~30% of a token on the default int8 model (12.2 -> 8.7 ms per token at 2
threads, measured; BENCHMARKS.md). TorchScript runs the *same* ATen and fbgemm operators in
the same order from C++, so results are bit-identical to the eager code in
``fast_llama._LayerWeights.run`` (tested), only without the Python between them.

Only the inside of a layer is scripted: the layer module is still called from Python, so
steering hooks on decoder layers keep firing around it. Prefill (many tokens, masks) stays
eager, where the matrix products dominate anyway.

``torch.jit.script`` is deprecated upstream in favour of ``torch.compile``, which needs tens
of seconds to compile and cannot see through the fbgemm call (docs/speed.md); it works in
the pinned torch. If scripting ever fails, or ``$ROLEPLAY_SCRIPTED_DECODE=0``, the eager
code runs instead. Import lazily (it imports torch).
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import Tensor

SCRIPTED_DECODE_ENV = "ROLEPLAY_SCRIPTED_DECODE"
_log = logging.getLogger(__name__)

# TorchScript resolves the annotations below when scripting, so the packed-weight name must
# be the real class at run time (mypy sees Any).
if TYPE_CHECKING:
    PackedWeight = Any
else:
    PackedWeight = torch.classes.quantized.LinearPackedParamsBase


def _project(
    x: Tensor,
    packed: PackedWeight | None,
    weight: Tensor | None,
    bias: Tensor | None,
    reduce_range: bool,
) -> Tensor:
    """``DynamicInt8Linear`` on one row (fbgemm, bias added after) or ``nn.Linear``."""
    if packed is not None:
        out = torch.ops.quantized.linear_dynamic(x, packed, reduce_range)
        if bias is not None:
            out = out + bias
        return out
    assert weight is not None
    return F.linear(x, weight, bias)


def _decode_layer_step(
    hidden: Tensor,
    input_norm: Tensor,
    post_norm: Tensor,
    eps: float,
    heads: int,
    kv_heads: int,
    head_dim: int,
    intermediate: int,
    scaling: float,
    cos: Tensor,
    sin: Tensor,
    keys: Tensor,
    values: Tensor,
    start: int,
    end: int,
    packed: list[PackedWeight | None],
    weights: list[Tensor | None],
    biases: list[Tensor | None],
    reduce_range: bool,
) -> Tensor:
    """``_LayerWeights.run`` for one token without a mask, operator for operator.

    Projections are indexed 0: fused q/k/v, 1: o_proj, 2: fused gate/up, 3: down_proj.
    """
    width = hidden.shape[-1]
    normed = F.rms_norm(hidden, [width], input_norm, eps)
    qkv = _project(normed, packed[0], weights[0], biases[0], reduce_range)
    qkv = qkv.view(1, 1, heads + 2 * kv_heads, head_dim).transpose(1, 2)
    qk = qkv[:, : heads + kv_heads]
    qk = qk * cos + torch.roll(qk, head_dim // 2, -1) * sin
    keys[:, :, start:end] = qk[:, heads:]
    values[:, :, start:end] = qkv[:, heads + kv_heads :]
    attended = F.scaled_dot_product_attention(
        qk[:, :heads],
        keys[:, :, :end],
        values[:, :, :end],
        None,
        0.0,
        False,
        scale=scaling,
        enable_gqa=heads != kv_heads,
    )
    merged = attended.transpose(1, 2).reshape(1, 1, heads * head_dim)
    hidden = hidden + _project(merged, packed[1], weights[1], biases[1], reduce_range)
    normed = F.rms_norm(hidden, [width], post_norm, eps)
    gate_up = _project(normed, packed[2], weights[2], biases[2], reduce_range)
    activated = F.silu(gate_up[..., :intermediate]) * gate_up[..., intermediate:]
    return hidden + _project(activated, packed[3], weights[3], biases[3], reduce_range)


@functools.cache
def scripted_layer_step() -> Callable[..., Tensor] | None:
    """The scripted step, compiled once per process; None when disabled or unavailable."""
    if os.environ.get(SCRIPTED_DECODE_ENV, "1").strip() == "0":
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # see the module docstring
            return torch.jit.script(_decode_layer_step)  # type: ignore[no-any-return]
    except Exception as error:  # any TorchScript failure: the eager step is always correct
        _log.warning("TorchScript decode step unavailable (%s); decoding eagerly", error)
        return None


def projection_arguments(module: Any) -> tuple[Any, Tensor | None, Tensor | None]:
    """(packed int8 weight or None, float weight or None, bias or None) of a projection."""
    from roleplay.engine.quantize import DynamicInt8Linear

    if isinstance(module, DynamicInt8Linear):
        return module.packed_weight, None, module.bias_values
    return None, module.weight, module.bias
