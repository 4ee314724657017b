"""Int8 linear layers for CPU decoding, and the on-disk cache of quantized weights.

Why dynamic int8 (weights int8 per output channel, activations quantized per call by
fbgemm's ``quantized::linear_dynamic``): decoding one token is a chain of matrix-vector
products whose cost is reading the weights. Int8 reads a quarter of float32's bytes, and of
the kernels measured on this machine (float32, bfloat16, weight-only int8 and int4 with
bfloat16 activations, int8 via ``torch._int_mm``) fbgemm's was the fastest per token, by 3x
on the gate/up and 49152 x 576 output layers (docs/speed.md has the numbers).

Activations use all 8 bits (``reduce_range=False``: relative error 1.0% instead of 1.5%,
measured) only on CPUs with VNNI, whose int8 dot products accumulate in 32 bits; without it
fbgemm sums pairs of products in saturating 16-bit lanes and needs the 7-bit range.

A quantized model is cached under ``models_dir()/quantized/`` keyed by the model id, the
method and a fingerprint of the float weights, so it is not re-quantized at every start.
This module imports torch at the top: import it lazily (model loading does).
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import torch
from torch import nn

from roleplay.paths import models_dir, safe_slug

QUANTIZATION_FORMAT_VERSION = 1
QUANTIZATION_METHODS = ("int8",)


@dataclass(frozen=True)
class QuantizedWeight:
    """A weight matrix as int8 values and one float32 scale per output row."""

    values: torch.Tensor  # int8, [out_features, in_features]
    scale: torch.Tensor  # float32, [out_features]

    def dequantize(self) -> torch.Tensor:
        return self.values.float() * self.scale[:, None]


def quantize_weight(weight: torch.Tensor) -> QuantizedWeight:
    """Symmetric per-output-channel int8: row / (max|row| / 127), rounded."""
    weight = weight.detach().float()
    scale = weight.abs().amax(dim=1) / 127.0
    # An all-zero row would divide by zero; any positive scale reproduces its zeros exactly.
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    values = torch.round(weight / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return QuantizedWeight(values=values.contiguous(), scale=scale.contiguous())


def concat_weights(parts: Sequence[QuantizedWeight]) -> QuantizedWeight:
    """Stack row blocks (fused QKV or gate/up): exact, because every row has its own scale."""
    return QuantizedWeight(
        values=torch.cat([p.values for p in parts]).contiguous(),
        scale=torch.cat([p.scale for p in parts]).contiguous(),
    )


@functools.cache
def full_activation_range() -> bool:
    """Whether the CPU has VNNI (no 16-bit saturation in fbgemm's int8 dot products)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    return bool(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    except OSError:
        pass
    return False


def _prepack(weight: QuantizedWeight, bias: torch.Tensor | None) -> Any:
    out_features = weight.values.shape[0]
    with warnings.catch_warnings():
        # torch >= 2.10 flags quantized-tensor constructors as deprecated; the fbgemm
        # kernels themselves are the supported path in the pinned torch 2.13.
        warnings.simplefilter("ignore")
        quantized = torch._make_per_channel_quantized_tensor(
            weight.values,
            weight.scale.double(),
            torch.zeros(out_features, dtype=torch.long),
            0,
        )
        return torch.ops.quantized.linear_prepack(quantized, bias)


class DynamicInt8Linear(nn.Module):
    """``nn.Linear`` replacement: int8 weights, activations quantized at each call.

    Input and output stay float32 of any leading shape, so callers (transformers' forward,
    the fast decoder, hooks) see the same interface as ``nn.Linear``.
    """

    def __init__(self, weight: QuantizedWeight, bias: torch.Tensor | None = None) -> None:
        super().__init__()
        self.out_features, self.in_features = (int(n) for n in weight.values.shape)
        self.bias_values = None if bias is None else bias.detach().float().contiguous()
        # The bias is added outside the kernel: rows are rescaled around the kernel call.
        self._packed = _prepack(weight, None)
        self._full_range = full_activation_range()
        # W @ 1 of the int8 weight, for re-centred rows (see forward).
        self._row_sums = weight.values.sum(dim=1, dtype=torch.int32).float() * weight.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == x.shape[-1]:
            # One row (decoding): fbgemm's per-call activation range is this token's range.
            out = torch.ops.quantized.linear_dynamic(x, self._packed, not self._full_range)
        else:
            # fbgemm quantizes all rows with one range. The first token's activations are
            # up to 1900x the median token's (measured, default model), which leaves the
            # others a handful of levels: perplexity +57% measured. Mapping every row onto
            # [-1, 1] first gives each its own range (per-token, as at decode time); since
            # x = centre + half * x', W @ x = half * (W @ x') + centre * (W @ 1).
            low = x.amin(dim=-1, keepdim=True)
            high = x.amax(dim=-1, keepdim=True)
            centre = (high + low) * 0.5
            half = ((high - low) * 0.5).clamp_(min=1e-20)
            out = torch.ops.quantized.linear_dynamic(
                (x - centre) / half, self._packed, not self._full_range
            )
            out = torch.addcmul(centre * self._row_sums, out, half)
        if self.bias_values is not None:
            out = out + self.bias_values
        return out  # type: ignore[no-any-return]

    @property
    def packed_weight(self) -> Any:
        """fbgemm's prepacked int8 weight (what ``quantized::linear_dynamic`` takes)."""
        return self._packed

    def quantized_weight(self) -> QuantizedWeight:
        """The int8 values and scales back from the packed form (for fusing and caching)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            packed_weight, _ = torch.ops.quantized.linear_unpack(self._packed)
            return QuantizedWeight(
                values=packed_weight.int_repr().contiguous(),
                scale=packed_weight.q_per_channel_scales().float().contiguous(),
            )

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias_values is not None}, int8 dynamic"
        )


def quantized_weight_of(module: nn.Module) -> QuantizedWeight:
    """The module's int8 weight: read back from an int8 layer, or quantized from a Linear."""
    if isinstance(module, DynamicInt8Linear):
        return module.quantized_weight()
    return quantize_weight(cast(nn.Linear, module).weight)


def bias_of(module: nn.Module) -> torch.Tensor | None:
    if isinstance(module, DynamicInt8Linear):
        return module.bias_values
    bias = getattr(module, "bias", None)
    return None if bias is None else bias.detach().float()


def quantizable_linears(model: nn.Module) -> Iterator[tuple[str, nn.Linear]]:
    """Every ``nn.Linear`` of the model (decoder projections and the output layer)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            yield name, module


def _set_submodule(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, module)


def weight_fingerprint(model: nn.Module) -> str:
    """A cheap identity of the float weights: names, shapes and a strided sample of values.

    The model id already names the weights; this catches a folder whose weights changed
    in place with the same file sizes, where a stale quantized copy would be wrong.
    """
    digest = hashlib.sha256()
    for name, module in quantizable_linears(model):
        weight = module.weight.detach()
        digest.update(f"{name}:{tuple(weight.shape)}".encode())
        flat = weight.reshape(-1)
        sample = flat[:: max(1, flat.numel() // 64)][:64].to(torch.float32)
        digest.update(sample.numpy().tobytes())
    return digest.hexdigest()[:16]


def quantized_cache_folder(model_id: str, method: str) -> Path:
    return models_dir() / "quantized" / f"{safe_slug(model_id, max_length=80)}-{method}"


def _cache_file(model_id: str, method: str, variant: str, fingerprint: str) -> Path:
    name = f"v{QUANTIZATION_FORMAT_VERSION}-{variant}-{fingerprint}.safetensors"
    return quantized_cache_folder(model_id, method) / name


def _save_atomically(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, str]) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, staging = tempfile.mkstemp(prefix=".quantizing-", suffix=".tmp", dir=path.parent)
    os.close(handle)
    try:
        save_file(tensors, staging, metadata=meta)
        os.replace(staging, path)  # readers see either no file or the complete file
    finally:
        if os.path.exists(staging):
            os.unlink(staging)


@dataclass
class QuantizationReport:
    method: str
    layers: int
    cache_path: Path | None
    reused_cache: bool
    smoothed: bool = False


NORM_PREFIX = "norm/"


def quantize_model(
    model: nn.Module,
    method: str,
    *,
    model_id: str | None = None,
    use_cache: bool = True,
    tokenizer: Any = None,
) -> QuantizationReport:
    """Replace the model's ``nn.Linear`` layers by int8 ones, in place.

    With a ``tokenizer`` and a Llama-family model, the model is first smoothed
    (``roleplay.engine.smoothing``), which changes its RMSNorm weights too. With a
    ``model_id`` the result is read from (or written to) the cache, keyed by model id,
    method, smoothing version and a fingerprint of the float weights. Tied weights (the
    output layer sharing the embedding) are untied: the embedding lookup keeps the float
    table, the output layer gets its own int8 copy.
    """
    from roleplay.engine import smoothing
    from roleplay.engine.fast_llama import unsupported_reason

    if method not in QUANTIZATION_METHODS:
        raise ValueError(f"unknown quantization method {method!r}: use {QUANTIZATION_METHODS}")
    smooth = tokenizer is not None and unsupported_reason(model) is None
    variant = f"smooth{smoothing.SMOOTHING_VERSION}" if smooth else "plain"
    targets = [name for name, _ in quantizable_linears(model)]
    cache_path: Path | None = None
    cached: dict[str, torch.Tensor] = {}
    if model_id is not None and use_cache and targets:
        cache_path = _cache_file(model_id, method, variant, weight_fingerprint(model))
        if cache_path.is_file():
            cached = _load_cached(cache_path, targets)
    reused = bool(cached)
    to_save: dict[str, torch.Tensor] = {}
    if smooth and not reused:
        # Changes where quantization error goes, not the float model's output.
        smoothing.smooth_model(model, tokenizer)
        for name, norm in smoothing.norm_weights(model).items():
            to_save[f"{NORM_PREFIX}{name}"] = norm
    # Build (prepack) every int8 layer before changing anything, so a CPU without int8
    # kernels fails here and leaves a working float model behind.
    replacements: dict[str, nn.Module] = {}
    for name in targets:
        module = cast(nn.Linear, model.get_submodule(name))
        if reused:
            weight = QuantizedWeight(values=cached[f"{name}.values"], scale=cached[f"{name}.scale"])
        else:
            weight = quantize_weight(module.weight)
            to_save[f"{name}.values"] = weight.values
            to_save[f"{name}.scale"] = weight.scale
        replacements[name] = DynamicInt8Linear(weight, bias_of(module))
    if reused:
        with torch.no_grad():
            for key, value in cached.items():
                if key.startswith(NORM_PREFIX):
                    model.get_submodule(key[len(NORM_PREFIX) :]).weight.copy_(value)  # type: ignore[operator]
    for name, replacement in replacements.items():
        _set_submodule(model, name, replacement)
    if cache_path is not None and not reused and to_save:
        meta = {"model_id": str(model_id), "method": method, "variant": variant}
        _save_atomically(cache_path, to_save, meta)
    config = getattr(model, "config", None)
    if config is not None and hasattr(config, "tie_word_embeddings"):
        # The output layer is no longer the embedding's Linear: never re-tie them.
        config.tie_word_embeddings = False
    return QuantizationReport(method, len(targets), cache_path, reused, smooth)


def _load_cached(path: Path, names: Sequence[str]) -> dict[str, torch.Tensor]:
    """The cached tensors, or {} when the file does not hold exactly these layers."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(str(path))
    except (OSError, SafetensorError):
        return {}
    expected = {f"{name}.{part}" for name in names for part in ("values", "scale")}
    linears = {key for key in tensors if not key.startswith(NORM_PREFIX)}
    return tensors if linears == expected else {}
