"""An int8 forward pass for the MiniLM sentence encoder, for CPUs with VNNI.

Memory ingest is bound by the encoder's matrix products: in bfloat16 they already run near
the two cores' peak, so the only way to a faster encoder is cheaper arithmetic. With VNNI an
int8 product does twice the work per instruction. Here each linear layer runs on oneDNN's
int8 kernel (``onednn::qlinear_pointwise``) with

- weights quantized per output channel (symmetric, once at load), and
- activations quantized per token (symmetric, at each call): every token gets its own
  range, so a text's vector does not depend on the other texts in its batch or on padding
  (a per-batch range, as fbgemm's and ONNX Runtime's dynamic quantization use, made
  "Hello there." encode to a cosine of 0.973 alone vs in a batch).

Integer accumulation is exact, and everything else (embeddings, LayerNorm, attention, GELU,
pooling) stays float32, so vectors are deterministic. Against the float32 model the vectors
agree to a cosine of ~0.997 (measured in ``benchmarks/memory_encoders.py``); the weights come
from the same checkpoint, no calibration data is involved.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import torch
from torch import nn
from torch.nn import functional

from roleplay.memory.int8_weights import quantize_weight

# A row of zeros has no range; any positive floor quantizes it to zeros.
_MIN_RANGE = 1e-12
_LEVELS = 127.0
# uint8 activations centred on 128: oneDNN's x86 int8 kernels take unsigned activations.
_ZERO_POINT = 128
# Relative error of int8 against float32 on the probe layer: ~0.007 measured; far above
# means the kernels misbehave.
PROBE_TOLERANCE = 0.05
# torch >= 2.10 flags quantized-tensor constructors as deprecated; in the pinned torch 2.13
# they are the supported way into oneDNN's int8 kernels (and the probe above guards a
# future torch without them).
warnings.filterwarnings(
    "ignore",
    message=r"torch\.quantize_per_tensor, torch\.quantize_per_channel",
    category=UserWarning,
)
# |min GELU(x)| (at x = -0.7518), rounded up.
_GELU_MIN_ABS = 0.17005


@lru_cache(maxsize=1)
def int8_kernels_available() -> bool:
    """VNNI (without it int8 does not pay) and working oneDNN int8 ops in this torch.

    A small random layer must match float32: a torch whose quantized ops changed or went
    away (they are deprecated upstream) makes the encoder fall back, not fail.
    """
    cpu: Any = torch.cpu
    if not getattr(cpu, "_is_vnni_supported", lambda: False)():
        return False
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(32, 64, generator=generator)
    bias = torch.randn(32, generator=generator)
    rows = torch.randn(8, 64, generator=generator)
    try:
        actual = Int8Linear(weight, bias)(rows)
    except (AttributeError, RuntimeError, TypeError, NotImplementedError):
        return False
    expected = functional.linear(rows, weight, bias)
    return bool((actual - expected).norm() <= PROBE_TOLERANCE * expected.norm())


class Int8Linear(nn.Module):
    """``x @ W.T + b`` for 2-d float32 ``x``: int8 weights per channel, int8 tokens per row."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        # Symmetric per-output-channel int8 (``int8_weights``), packed for oneDNN's kernels.
        quantized = quantize_weight(weight)
        self.out_features = int(quantized.values.shape[0])
        self._packed = torch.ops.onednn.qlinear_prepack(quantized.values, None)
        self._weight_scale = quantized.scale
        self._weight_zero_points = torch.zeros(self.out_features, dtype=torch.long)
        self._bias = bias.detach().float().contiguous()

    def forward(self, rows: torch.Tensor, ranges: torch.Tensor | None = None) -> torch.Tensor:
        """``ranges``: each row's absolute maximum (or a bound above it), (rows, 1), if the
        caller knows it more cheaply than a pass over ``rows``."""
        # Each row is mapped onto [-1, 1] by its own absolute maximum, quantized with one
        # shared scale, and the kernel's output is scaled back row by row.
        if ranges is None:
            ranges = rows.abs().amax(dim=1, keepdim=True)
        ranges = ranges.clamp(min=_MIN_RANGE)
        quantized = torch.quantize_per_tensor(
            rows * ranges.reciprocal(), 1.0 / _LEVELS, _ZERO_POINT, torch.quint8
        )
        products = torch.ops.onednn.qlinear_pointwise(
            _as_uint8(quantized),
            1.0 / _LEVELS,
            _ZERO_POINT,
            self._packed,
            self._weight_scale,
            self._weight_zero_points,
            None,
            1.0,
            0,
            torch.float32,
            "none",
            [],
            "",
        )
        return torch.addcmul(self._bias, products, ranges)


def _as_uint8(quantized: torch.Tensor) -> torch.Tensor:
    """The raw bytes of a ``quint8`` tensor as a plain uint8 tensor, without a copy.

    ``Tensor.int_repr()`` copies, and at these sizes the copy costs as much as quantizing.
    """
    raw = torch.empty(0, dtype=torch.uint8)
    return raw.set_(quantized.untyped_storage(), 0, quantized.shape, quantized.stride())


class Int8EncoderLayer(nn.Module):
    """One BERT layer (post-LayerNorm) with its four projections on int8 kernels."""

    def __init__(self, layer: Any, heads: int, eps: float) -> None:
        super().__init__()
        attention = layer.attention.self
        projections = (attention.query, attention.key, attention.value)
        # One product for queries, keys and values: the input is quantized once, not three
        # times, and one wide product runs closer to peak than three narrow ones.
        self.qkv = Int8Linear(
            torch.cat([p.weight for p in projections]), torch.cat([p.bias for p in projections])
        )
        self.attention_out = Int8Linear(
            layer.attention.output.dense.weight, layer.attention.output.dense.bias
        )
        self.attention_norm = layer.attention.output.LayerNorm
        self.up = Int8Linear(layer.intermediate.dense.weight, layer.intermediate.dense.bias)
        self.down = Int8Linear(layer.output.dense.weight, layer.output.dense.bias)
        self.output_norm = layer.output.LayerNorm
        self.heads = heads
        self.eps = eps

    def forward(self, hidden: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
        """``hidden`` (batch, tokens, width); ``keep`` (batch, 1, 1, tokens) bool mask."""
        batch, tokens, width = hidden.shape
        rows = hidden.reshape(batch * tokens, width)
        head_width = width // self.heads
        qkv = self.qkv(rows).view(batch, tokens, 3, self.heads, head_width).permute(2, 0, 3, 1, 4)
        context = functional.scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], attn_mask=keep)
        context_rows = context.transpose(1, 2).reshape(batch * tokens, width)
        attended = self._norm(self.attention_norm, self.attention_out(context_rows) + rows)
        expanded = self.up(attended)
        # GELU rises for inputs above -0.75 and never goes below -0.17, so
        # max(GELU(row maximum), 0.17) bounds each row's absolute maximum after it (and is
        # exact whenever it exceeds 0.17): one read of the widest activation instead of
        # abs() writing a copy and amax() reading it.
        ranges = functional.gelu(expanded.amax(dim=1, keepdim=True)).clamp_(min=_GELU_MIN_ABS)
        torch.ops.aten.gelu_(expanded)
        return self._norm(self.output_norm, self.down(expanded, ranges) + attended).view(
            batch, tokens, width
        )

    def _norm(self, norm: nn.LayerNorm, rows: torch.Tensor) -> torch.Tensor:
        return functional.layer_norm(rows, norm.normalized_shape, norm.weight, norm.bias, self.eps)


class Int8SentenceModel(nn.Module):
    """``last_hidden_state`` of a float32 Hugging Face ``BertModel``, computed in int8."""

    def __init__(self, model: Any) -> None:
        super().__init__()
        config = model.config
        if config.hidden_act != "gelu" or getattr(config, "is_decoder", False):
            raise ValueError("the int8 encoder supports encoder-only BERT models with GELU")
        self.embeddings = model.embeddings
        self.layers = nn.ModuleList(
            Int8EncoderLayer(layer, config.num_attention_heads, config.layer_norm_eps)
            for layer in model.encoder.layer
        )

    @torch.inference_mode()
    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.embeddings(input_ids=input_ids, token_type_ids=torch.zeros_like(input_ids))
        keep = attention_mask.bool()[:, None, None, :]
        for layer in self.layers:
            hidden = layer(hidden, keep)
        return hidden  # type: ignore[no-any-return]
