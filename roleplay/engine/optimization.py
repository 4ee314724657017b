"""Which speed options the engine applies to a loaded model, and applying them.

    none  the transformers forward in float32: the reference every option is measured against
    fast  the compact Llama-family forward (roleplay.engine.fast_llama), float32 weights
    int8  ``fast`` plus int8 linear layers, output layer included, smoothed first
          (roleplay.engine.quantize, roleplay.engine.smoothing)
    auto  the measured best option whose quality loss is within QUALITY_THRESHOLDS

``auto`` resolves per model: int8 for Llama-family models with at least
AUTO_INT8_MIN_PARAMETERS parameters on x86 CPUs with fbgemm (below that size the weights are
too small for int8 to pay and kernel overheads dominate; the int8 kernels were measured on
x86 only), ``fast`` for other Llama-family models, ``none`` for other architectures.
docs/speed.md has the measurements behind this choice.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, cast

from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    from roleplay.engine.fast_llama import FastLlama
    from roleplay.engine.loading import LoadedModel, StatusCallback

Optimization = Literal["auto", "none", "fast", "int8"]
OPTIMIZATIONS: tuple[str, ...] = ("auto", "none", "fast", "int8")
OPTIMIZATION_ENV = "ROLEPLAY_ENGINE_OPTIMIZATION"
AUTO_INT8_MIN_PARAMETERS = 20_000_000
# An option may be the default only if its quality against float32 stays within these
# (checked by benchmarks/generation_speed.py on the default model; docs/speed.md):
# perplexity of the reference prose at most 5% higher, and the option's top token equal to
# float32's at >= 90% of the steps of float32's own greedy replies (teacher-forced).
QUALITY_THRESHOLDS = {"max_perplexity_increase": 0.05, "min_teacher_forced_agreement": 0.90}


def requested_optimization(requested: str | None = None) -> str:
    """The explicit choice, else ``$ROLEPLAY_ENGINE_OPTIMIZATION``, else ``auto``."""
    choice = (requested or os.environ.get(OPTIMIZATION_ENV) or "auto").strip().lower()
    if choice not in OPTIMIZATIONS:
        source = "optimization" if requested else OPTIMIZATION_ENV
        raise RoleplayError(f"{source}={choice!r}: use one of {', '.join(OPTIMIZATIONS)}")
    return choice


@dataclass
class AppliedOptimization:
    method: str  # what was applied: none | fast | int8
    fast: FastLlama | None = None  # the fast forward, when the architecture has one
    notes: list[str] = field(default_factory=list)


def _parameter_count(loaded: LoadedModel) -> int:
    return sum(p.numel() for p in loaded.model.parameters())


def _has_fbgemm() -> bool:
    import torch

    return "fbgemm" in torch.backends.quantized.supported_engines


def apply_optimization(
    loaded: LoadedModel, requested: str | None, status: StatusCallback | None = None
) -> AppliedOptimization:
    """Apply the requested option to ``loaded.model`` in place (it stays the model object)."""
    from roleplay.engine.fast_llama import FastLlama, unsupported_reason

    say = status or (lambda _: None)
    choice = requested_optimization(requested)
    reason = unsupported_reason(loaded.model)
    if choice == "auto":
        if reason is not None:
            choice = "none"
        elif _parameter_count(loaded) >= AUTO_INT8_MIN_PARAMETERS and _has_fbgemm():
            choice = "int8"
        else:
            choice = "fast"
    applied = AppliedOptimization(method=cast(str, choice))
    if choice == "none":
        return applied
    if choice == "int8":
        from roleplay.engine.quantize import quantize_model

        try:
            report = quantize_model(
                loaded.model, "int8", model_id=loaded.model_id, tokenizer=loaded.tokenizer
            )
        except RuntimeError as error:
            # No int8 kernels for this CPU (fbgemm is x86-only): keep float32.
            # quantize_model prepacks every layer before it changes the model.
            first_line = (str(error).strip().splitlines() or [repr(error)])[0]
            applied.method = "fast" if reason is None else "none"
            applied.notes.append(f"int8 unavailable ({first_line}); using float32")
            say(f"int8 is not available here; using float32 ({first_line}).")
        else:
            verb = "reused cached" if report.reused_cache else "quantized"
            smoothed = " (smoothed)" if report.smoothed else ""
            applied.notes.append(f"{verb} {report.layers} linear layers to int8{smoothed}")
            say(f"{verb.capitalize()} int8 weights ({report.layers} layers).")
    if reason is not None:
        applied.notes.append(f"no fast forward: {reason}")
        return applied
    applied.fast = FastLlama(loaded.model)
    return applied
