"""Where steering vectors are built and applied: one adapter per kind of backend.

The controller does not care how a backend reaches its hidden states. A target answers four
things: how the model renders a chat (to build contrastive examples in its own format),
its layers' outputs over those examples (to derive directions), how to add per-layer
vectors while a reply is generated, and what to call that method in reports.

- ``HookTarget``: a PyTorch model (transformers backend): forward hooks on decoder layers.
- ``ControlVectorTarget``: llama.cpp: activations through the eval callback, vectors as
  native control vectors (``llama_set_adapter_cvec``).
- A backend without hidden states (a remote server) has no target: the controller falls
  back to prompt-level guidance and says so.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Protocol

from roleplay.control.errors import ControlError
from roleplay.control.recording import (
    ChatExample,
    ProgressCallback,
    RecordedActivations,
    answer_start,
    record_answer_activations,
)
from roleplay.engine.base import ChatMessage, SteeringMethod

if TYPE_CHECKING:
    import torch

    from roleplay.engine.llama_cpp_engine import LlamaCppEngine


class SteeringTarget(Protocol):
    method: SteeringMethod
    backend: str
    model_id: str
    num_layers: int
    hidden_size: int

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The chat in the model's template, with the generation prompt appended."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of a phrase (no special tokens), for banned-phrase processors."""
        ...

    def record(
        self,
        examples: Sequence[ChatExample],
        layers: Sequence[int],
        *,
        batch_size: int,
        progress: ProgressCallback | None,
    ) -> RecordedActivations: ...

    def steering(
        self,
        deltas: Mapping[int, torch.Tensor],
        *,
        reply_only: bool = False,
        half_life: float | None = None,
    ) -> AbstractContextManager[Any]:
        """Add ``deltas[layer]`` to each layer's output inside the ``with`` block; with
        ``reply_only``, at the reply's positions only (the prompt's are left alone); with
        ``half_life``, halved every ``half_life`` tokens of a generated reply."""
        ...


REPLY_ONLY_NEEDS_CONTROL_VECTORS = (
    "steering only the reply's tokens needs llama.cpp's control vectors "
    "(the transformers backend's hooks steer every token); use scope: all"
)
DECAY_NEEDS_CONTROL_VECTORS = (
    "decaying the vectors over a reply needs llama.cpp's control vectors "
    "(the transformers backend's hooks add them at one strength); use reply_half_life: null"
)


def content_key(deltas: Mapping[int, torch.Tensor]) -> str:
    """Identity of a set of per-layer vectors by content (same vectors, same key)."""
    import torch

    digest = hashlib.blake2b(digest_size=16)
    for layer in sorted(deltas):
        data = deltas[layer].detach().to("cpu", torch.float32).contiguous()
        digest.update(f"{layer}:{tuple(data.shape)}:".encode())
        digest.update(data.view(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


class HookTarget:
    """A Hugging Face model: forward hooks on its decoder layers."""

    method: SteeringMethod = "hooks"
    backend = "transformers"

    def __init__(self, model: Any, tokenizer: Any, model_id: str) -> None:
        from roleplay.control.layers import find_decoder_layers, hidden_size

        self.model = model
        self.tokenizer = tokenizer
        self.model_id = model_id
        self.num_layers = len(find_decoder_layers(model))
        self.hidden_size = hidden_size(model)

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        return str(
            self.tokenizer.apply_chat_template(
                conversation, tokenize=False, add_generation_prompt=True
            )
        )

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in self.tokenizer.encode(text, add_special_tokens=False)]

    def record(
        self,
        examples: Sequence[ChatExample],
        layers: Sequence[int],
        *,
        batch_size: int,
        progress: ProgressCallback | None,
    ) -> RecordedActivations:
        return record_answer_activations(
            self.model, self.tokenizer, examples, layers, batch_size=batch_size, progress=progress
        )

    def steering(
        self,
        deltas: Mapping[int, torch.Tensor],
        *,
        reply_only: bool = False,
        half_life: float | None = None,
    ) -> AbstractContextManager[Any]:
        from roleplay.control.hooks import steering_applied

        if reply_only:
            raise ControlError(REPLY_ONLY_NEEDS_CONTROL_VECTORS)
        if half_life is not None:
            raise ControlError(DECAY_NEEDS_CONTROL_VECTORS)
        return steering_applied(self.model, deltas)


class ControlVectorTarget:
    """A GGUF model in llama.cpp: the eval callback to read, control vectors to steer."""

    method: SteeringMethod = "control_vectors"
    backend = "llama.cpp"

    def __init__(self, engine: LlamaCppEngine) -> None:
        self.engine = engine
        self.model_id = engine.model_id
        self.num_layers = engine.n_layer
        self.hidden_size = engine.n_embd

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        return self.engine.render_chat(messages)

    def encode(self, text: str) -> list[int]:
        ids = self.engine.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False)
        return [int(t) for t in ids]

    def record(
        self,
        examples: Sequence[ChatExample],
        layers: Sequence[int],
        *,
        batch_size: int,
        progress: ProgressCallback | None,
    ) -> RecordedActivations:
        import numpy as np
        import torch

        wanted = sorted(set(layers))
        means = {layer: torch.zeros(len(examples), self.hidden_size) for layer in wanted}
        norms: dict[int, list[torch.Tensor]] = {layer: [] for layer in wanted}
        if progress is not None:
            progress(0, len(examples))
        for begin in range(0, len(examples), batch_size):
            chunk = examples[begin : begin + batch_size]
            encoded = [
                (self.engine.tokenize(example.text), self.engine.tokenize(example.prefix))
                for example in chunk
            ]
            outputs = self.engine.layer_outputs([full for full, _ in encoded], wanted)
            for offset, ((full, prefix), per_layer) in enumerate(
                zip(encoded, outputs, strict=True)
            ):
                start = answer_start(prefix, full)
                for layer in wanted:
                    answer = per_layer[layer][start:]
                    means[layer][begin + offset] = torch.from_numpy(answer.mean(axis=0))
                    norms[layer].append(torch.from_numpy(np.linalg.norm(answer, axis=1)))
            if progress is not None:
                progress(min(begin + batch_size, len(examples)), len(examples))
        return RecordedActivations(means=means, token_norms=norms)

    @contextmanager
    def steering(
        self,
        deltas: Mapping[int, torch.Tensor],
        *,
        reply_only: bool = False,
        half_life: float | None = None,
    ) -> Iterator[None]:
        if 0 in deltas:
            raise ControlError("llama.cpp control vectors cannot act on layer 0")
        vectors = {layer: delta.detach().float().numpy() for layer, delta in deltas.items()}
        self.engine.set_control_vector(
            content_key(deltas), vectors, steer_prompt=not reply_only, half_life=half_life
        )
        try:
            yield None
        finally:
            self.engine.set_control_vector(None, None)


def steering_target_for(source: Any) -> SteeringTarget | None:
    """The target of an engine, a loaded model bundle or a ``(model, tokenizer, id)`` tuple.

    None when the backend offers no hidden states (steering falls back to the prompt).
    """
    from roleplay.engine.base import capabilities_of

    if isinstance(source, tuple):
        if len(source) != 3:
            raise ControlError("pass an engine, a loaded model or a (model, tokenizer, id) tuple")
        return HookTarget(*source)
    loaded = getattr(source, "loaded", None)
    if loaded is not None and hasattr(loaded, "model"):
        return _hook_target_or_none(loaded.model, loaded.tokenizer, loaded.model_id)
    if hasattr(source, "model") and hasattr(source, "tokenizer"):
        return _hook_target_or_none(source.model, source.tokenizer, source.model_id)
    if capabilities_of(source).steering == "control_vectors":
        return ControlVectorTarget(source)
    return None


def _hook_target_or_none(model: Any, tokenizer: Any, model_id: str) -> HookTarget | None:
    try:
        return HookTarget(model, tokenizer, model_id)
    except ControlError:
        return None


TargetFactory = Callable[[Any], SteeringTarget | None]
