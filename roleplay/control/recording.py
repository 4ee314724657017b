"""Record decoder-layer activations over the answer tokens of chat examples (batched).

For each example (the rendered prompt up to the assistant turn, and the same text with the
answer appended) we keep, per requested layer, the mean activation over the answer's tokens
and those tokens' activation norms. Averaging over the whole answer is steadier than
reading only the last token, and the norms give each layer's typical scale.

The forward pass stops right after the deepest requested layer: the remaining layers and
the LM head (a third of SmolLM2's compute per token) are never run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from roleplay.control.layers import find_decoder_layers, hidden_size

if TYPE_CHECKING:
    import torch
    from torch import nn
    from transformers import PreTrainedTokenizerBase

ProgressCallback = Callable[[int, int], None]  # (examples done, total)


@dataclass(frozen=True)
class ChatExample:
    prefix: str  # everything before the answer (rendered chat with the generation prompt)
    text: str  # prefix + answer


@dataclass
class RecordedActivations:
    means: dict[int, torch.Tensor]  # layer -> [examples, hidden], mean over answer tokens
    token_norms: dict[int, list[torch.Tensor]]  # layer -> per example, norms of answer tokens


class _StopForward(Exception):
    """Raised by the last recording hook to skip the layers nobody reads."""


def answer_start(prefix_ids: list[int], full_ids: list[int]) -> int:
    # Usually the prefix tokenizes to a prefix of the full text; if a merge crosses the
    # boundary, the answer starts where the two token sequences first differ.
    start = 0
    for a, b in zip(prefix_ids, full_ids, strict=False):
        if a != b:
            break
        start += 1
    return min(start, len(full_ids) - 1)


def record_answer_activations(
    model: nn.Module,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[ChatExample],
    layers: Sequence[int],
    *,
    batch_size: int = 32,
    progress: ProgressCallback | None = None,
) -> RecordedActivations:
    import torch

    decoder = find_decoder_layers(model).modules
    wanted = sorted(set(layers))
    encoded = [
        (
            tokenizer(example.text, add_special_tokens=False)["input_ids"],
            tokenizer(example.prefix, add_special_tokens=False)["input_ids"],
        )
        for example in examples
    ]
    starts = [answer_start(prefix, full) for full, prefix in encoded]
    pad_id = tokenizer.pad_token_id
    if pad_id is None:
        pad_id = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
    # Similar lengths share a batch, so little compute goes into padding.
    order = sorted(range(len(examples)), key=lambda i: len(encoded[i][0]))
    hidden = hidden_size(model)
    means = {layer: torch.zeros(len(examples), hidden) for layer in wanted}
    norms: dict[int, list[torch.Tensor]] = {
        layer: [torch.empty(0)] * len(examples) for layer in wanted
    }

    current: dict[str, Any] = {}

    def make_hook(layer: int, last: bool) -> Callable[..., None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            states = (output[0] if isinstance(output, tuple) else output).detach().float()
            mask = current["mask"]  # [batch, time], 1 on answer tokens
            weights = mask.unsqueeze(-1)
            batch_means = (states * weights).sum(1) / weights.sum(1).clamp(min=1)
            token_norms = states.norm(dim=-1)
            for row, index in enumerate(current["indices"]):
                means[layer][index] = batch_means[row]
                norms[layer][index] = token_norms[row][mask[row].bool()]
            if last:
                raise _StopForward

        return hook

    handles = [
        decoder[layer].register_forward_hook(make_hook(layer, layer == wanted[-1]))
        for layer in wanted
    ]
    if progress is not None:
        progress(0, len(order))
    try:
        with torch.inference_mode():
            for begin in range(0, len(order), batch_size):
                indices = order[begin : begin + batch_size]
                width = max(len(encoded[i][0]) for i in indices)
                input_ids = torch.full((len(indices), width), pad_id, dtype=torch.long)
                attention = torch.zeros((len(indices), width), dtype=torch.long)
                answer = torch.zeros((len(indices), width))
                for row, index in enumerate(indices):
                    ids = encoded[index][0]
                    input_ids[row, : len(ids)] = torch.tensor(ids)
                    attention[row, : len(ids)] = 1
                    answer[row, starts[index] : len(ids)] = 1
                current["mask"], current["indices"] = answer, indices
                with contextlib.suppress(_StopForward):
                    model(input_ids=input_ids, attention_mask=attention, use_cache=False)
                if progress is not None:
                    progress(min(begin + batch_size, len(order)), len(order))
    finally:
        for handle in handles:
            handle.remove()
    return RecordedActivations(means=means, token_norms=norms)
