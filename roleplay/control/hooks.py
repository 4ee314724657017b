"""Forward hooks that add fixed vectors to decoder-layer outputs, and always come off again.

This is the whole mechanism of activation steering at generation time: the residual stream
leaving decoder layer ``i`` gets ``delta[i]`` added at every position (prompt and generated
tokens alike, as in steering-vectors and repeng). Adding a vector costs one tensor addition
per steered layer per forward pass, which is why steering is nearly free at decode time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from roleplay.control.layers import find_decoder_layers, validate_layers

if TYPE_CHECKING:
    import torch
    from torch import nn
    from torch.utils.hooks import RemovableHandle


class SteeringHandle:
    """The hooks one application installed; ``remove()`` takes them all off (idempotent)."""

    def __init__(self, handles: list[RemovableHandle]) -> None:
        self._handles = handles

    @property
    def active(self) -> bool:
        return bool(self._handles)

    def remove(self) -> None:
        while self._handles:
            self._handles.pop().remove()


def _adding_hook(delta: torch.Tensor) -> Callable[[nn.Module, Any, Any], Any]:
    moved: dict[tuple[Any, Any], torch.Tensor] = {}

    def hook(_module: nn.Module, _inputs: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        if not hasattr(hidden, "dtype"):
            raise TypeError(
                f"cannot steer: a decoder layer returned {type(output).__name__}, "
                "expected a tensor or a tuple starting with one"
            )
        key = (hidden.device, hidden.dtype)
        vector = moved.get(key)
        if vector is None:  # move once per device/dtype, not at every decoding step
            vector = moved[key] = delta.to(device=hidden.device, dtype=hidden.dtype)
        steered = hidden + vector
        return (steered, *output[1:]) if isinstance(output, tuple) else steered

    hook.roleplay_steering = True  # type: ignore[attr-defined]
    # The engine reuses a cached prompt prefix only under hooks with the same identity.
    # Each turn installs new closures, but one that adds the same vector has the same
    # effect, so its identity is the vector's content.
    hook.cache_key = ("roleplay-steering", _content_digest(delta))  # type: ignore[attr-defined]
    return hook


def _content_digest(delta: torch.Tensor) -> str:
    import torch

    data = delta.detach().to("cpu").contiguous()
    header = f"{data.dtype}:{tuple(data.shape)}:".encode()
    return hashlib.blake2b(header + data.view(-1).view(torch.uint8).numpy().tobytes()).hexdigest()


def steering_hook_count(model: nn.Module) -> int:
    """How many of our steering hooks are attached to ``model`` (0 outside any application)."""
    return sum(
        1
        for module in model.modules()
        for hook in module._forward_hooks.values()
        if getattr(hook, "roleplay_steering", False)
    )


def add_steering_hooks(model: nn.Module, deltas: Mapping[int, torch.Tensor]) -> SteeringHandle:
    """Install one adding hook per layer in ``deltas``; prefer ``steering_applied``."""
    layers = find_decoder_layers(model).modules
    validate_layers(list(deltas), len(layers))
    handle = SteeringHandle([])
    try:
        for index, delta in sorted(deltas.items()):
            # prepend: run before hooks others registered earlier (transformers 5 captures
            # output_hidden_states with its own layer hooks), so they all see steered states.
            hook = _adding_hook(delta)
            handle._handles.append(layers[index].register_forward_hook(hook, prepend=True))
    except BaseException:
        handle.remove()  # never leave half an application behind
        raise
    return handle


@contextmanager
def steering_applied(
    model: nn.Module, deltas: Mapping[int, torch.Tensor]
) -> Iterator[SteeringHandle]:
    """Add ``deltas`` to the given layers' outputs inside the ``with`` block only.

    The hooks are removed when the block ends, also when it raises or when a generator
    consuming the model is closed early.
    """
    handle = add_steering_hooks(model, deltas)
    try:
        yield handle
    finally:
        handle.remove()
