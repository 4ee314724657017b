"""Find the decoder layers of any Hugging Face decoder-only model.

Architectures keep their blocks under different attribute paths (``model.layers`` for
Llama/Mistral/Qwen/Gemma, ``transformer.h`` for GPT-2/GPT-J/Falcon, ``gpt_neox.layers``,
``model.decoder.layers`` for OPT, ...). Known paths are tried first; otherwise the
``ModuleList`` whose length equals ``config.num_hidden_layers`` is taken, as
steering-vectors' layer matching does with its name patterns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roleplay.control.errors import ControlError

if TYPE_CHECKING:
    from torch import nn

KNOWN_LAYER_PATHS = (
    "model.layers",
    "model.model.layers",
    "model.language_model.layers",
    "transformer.h",
    "gpt_neox.layers",
    "model.decoder.layers",
    "transformer.layers",
    "transformer.blocks",
    "backbone.layers",
    "layers",
)


@dataclass(frozen=True)
class DecoderLayers:
    path: str  # attribute path from the model, e.g. "model.layers"
    modules: tuple[nn.Module, ...]

    def __len__(self) -> int:
        return len(self.modules)


def _resolve(model: nn.Module, path: str) -> object | None:
    node: object = model
    for part in path.split("."):
        node = getattr(node, part, None)
        if node is None:
            return None
    return node


def find_decoder_layers(model: nn.Module) -> DecoderLayers:
    """The model's decoder blocks in order; ``ControlError`` when none are recognisable."""
    from torch import nn

    if not isinstance(model, nn.Module):
        raise ControlError(f"cannot steer a {type(model).__name__}: it is not a PyTorch module")
    expected = getattr(getattr(model, "config", None), "num_hidden_layers", None)
    for path in KNOWN_LAYER_PATHS:
        node = _resolve(model, path)
        if isinstance(node, nn.ModuleList) and len(node) and (expected in (None, len(node))):
            return DecoderLayers(path, tuple(node))
    candidates = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, nn.ModuleList) and len(module)
    ]
    if expected is not None:
        candidates = [(n, m) for n, m in candidates if len(m) == expected]
    if candidates:
        name, module = max(candidates, key=lambda item: len(item[1]))
        return DecoderLayers(name, tuple(module))
    raise ControlError(
        f"cannot find the decoder layers of {type(model).__name__}; "
        f"tried {', '.join(KNOWN_LAYER_PATHS)} and any ModuleList of num_hidden_layers blocks"
    )


def layers_at_fractions(num_layers: int, fractions: Sequence[float]) -> tuple[int, ...]:
    """Layer indices at the given depth fractions (0 = first, 1 = last), deduplicated, sorted."""
    if num_layers < 1:
        raise ControlError("the model has no decoder layers")
    picked = {min(num_layers - 1, max(0, round(f * num_layers))) for f in fractions}
    return tuple(sorted(picked))


def validate_layers(layers: Sequence[int], num_layers: int) -> tuple[int, ...]:
    chosen = tuple(sorted(set(layers)))
    if not chosen:
        raise ControlError("choose at least one layer to steer")
    bad = [layer for layer in chosen if not 0 <= layer < num_layers]
    if bad:
        raise ControlError(f"layers {bad} do not exist; the model has layers 0..{num_layers - 1}")
    return chosen


def hidden_size(model: Any) -> int:
    """Width of the residual stream (``config.hidden_size``, or ``n_embd`` for GPT-2 style)."""
    config = getattr(model, "config", None)
    for name in ("hidden_size", "n_embd", "d_model"):
        value = getattr(config, name, None)
        if isinstance(value, int):
            return value
    raise ControlError(f"cannot tell the hidden size of {type(model).__name__}")
