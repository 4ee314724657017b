"""Batched generation for offline work (audits, evaluations): many prompts, one ``generate``.

Chat streams one reply at a time through ``TransformersEngine.stream``; an audit generates
thousands of short replies, where a padded batch keeps the CPU's matrix units busy and gives
several times the throughput. The contract is that greedy output equals ``stream``'s output
for every prompt on float32 weights (tested), so batching is a speed choice and does not
change what is measured (the backend runs float32 weights since its int8 path was removed):

- prompts are left-padded (the new tokens of every row are then aligned at the right) and
  the attention mask hides the padding; ``generate`` derives position ids from that mask;
- the sampling processors are the engine's own (same order, same settings), except that the
  repetition penalty ignores padding: the pad token may also be a stop token, and penalising
  it would make a padded row less likely to stop than the same prompt alone;
- stop strings end a row like in ``stream`` (the text before the stop string is kept);
- prompts are sorted by length before they are cut into batches, so rows of one batch need
  little padding, and the outputs come back in the caller's order.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from roleplay.engine.base import GenerationSettings

if TYPE_CHECKING:
    import torch

StopReason = Literal["eos", "stop_string", "length"]


class BatchEngine(Protocol):
    """What batching needs from an engine (``TransformersEngine`` provides it)."""

    model: Any
    tokenizer: Any
    stop_token_ids: set[int]

    def encode(self, text: str) -> torch.Tensor: ...

    def sampling_processors(
        self,
        settings: GenerationSettings,
        extra: Sequence[Any],
        prompt_length: int,
        *,
        repetition_penalty: Any = None,
    ) -> Any: ...


@dataclass
class GenerationOutput:
    """One prompt's reply from a batch."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    prompt_tokens: int = 0
    stop_reason: StopReason = "length"
    batch_seconds: float = 0.0  # wall time of the whole batch this reply was generated in

    @property
    def new_tokens(self) -> int:
        return len(self.token_ids)


class _UnpaddedRepetitionPenalty:
    """transformers' repetition penalty, applied only to the real (unpadded) tokens of a row."""

    def __init__(self, penalty: float, pad_lengths: Sequence[int]) -> None:
        self.penalty = penalty
        self.pad_lengths = list(pad_lengths)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        import torch

        scores = scores.clone()
        for row, pad in enumerate(self.pad_lengths):
            ids = input_ids[row, pad:]
            picked = torch.gather(scores[row], 0, ids)
            picked = torch.where(picked < 0, picked * self.penalty, picked / self.penalty)
            scores[row].scatter_(0, ids, picked)
        return scores


class _StopStrings:
    """A stopping criterion: a row is done once its new text contains a stop string."""

    def __init__(self, tokenizer: Any, stop_strings: Sequence[str], prompt_length: int) -> None:
        self.tokenizer = tokenizer
        self.stop_strings = tuple(s for s in stop_strings if s)
        self.prompt_length = prompt_length

    def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
        import torch

        done = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)
        if not self.stop_strings:
            return done
        for row in range(input_ids.shape[0]):
            text = self.tokenizer.decode(
                input_ids[row, self.prompt_length :].tolist(), skip_special_tokens=True
            )
            done[row] = any(stop in text for stop in self.stop_strings)
        return done


def _pad_id(engine: BatchEngine) -> int:
    tokenizer = engine.tokenizer
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if tokenizer.eos_token_id is not None:
        return int(tokenizer.eos_token_id)
    return min(engine.stop_token_ids)


def _finish(
    engine: BatchEngine, new_ids: list[int], stop_strings: Sequence[str], prompt_tokens: int
) -> GenerationOutput:
    reason: StopReason = "length"
    for index, token in enumerate(new_ids):
        if token in engine.stop_token_ids:
            new_ids, reason = new_ids[:index], "eos"
            break
    text: str = engine.tokenizer.decode(new_ids, skip_special_tokens=True)
    hits = [text.find(stop) for stop in stop_strings if stop and stop in text]
    if hits:
        text, reason = text[: min(hits)], "stop_string"
    return GenerationOutput(
        text=text, token_ids=new_ids, prompt_tokens=prompt_tokens, stop_reason=reason
    )


def _generate_one_batch(
    engine: BatchEngine,
    encoded: Sequence[list[int]],
    settings: GenerationSettings,
    logits_processors: Sequence[Any],
    seed: int | None,
) -> list[GenerationOutput]:
    import torch
    from transformers import GenerationConfig
    from transformers.generation.stopping_criteria import StoppingCriteriaList

    pad_id = _pad_id(engine)
    width = max(len(ids) for ids in encoded)
    pad_lengths = [width - len(ids) for ids in encoded]
    rows = list(zip(pad_lengths, encoded, strict=True))
    input_ids = torch.tensor([[pad_id] * pad + ids for pad, ids in rows])
    attention_mask = torch.tensor([[0] * pad + [1] * len(ids) for pad, ids in rows])
    # A bare config: every processor comes from the engine's, none from the model's defaults.
    config = GenerationConfig(
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.temperature > 0,
        temperature=None,
        top_k=None,
        top_p=None,
        pad_token_id=pad_id,
        eos_token_id=sorted(engine.stop_token_ids),
    )
    processors = engine.sampling_processors(
        settings,
        logits_processors,
        width,
        repetition_penalty=_UnpaddedRepetitionPenalty(settings.repetition_penalty, pad_lengths),
    )
    stopping = StoppingCriteriaList([_StopStrings(engine.tokenizer, settings.stop_strings, width)])
    started = time.perf_counter()
    # The batch's own seeded RNG; the caller's global torch RNG state is left as it was.
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        torch.manual_seed(seed if seed is not None else time.time_ns() % (2**63))
        output = engine.model.generate(
            input_ids=input_ids,
            attention_mask=attention_mask,
            generation_config=config,
            logits_processor=processors,
            stopping_criteria=stopping,
        )
    seconds = time.perf_counter() - started
    results = []
    for row, ids in enumerate(encoded):
        new_ids = [int(token) for token in output[row, width:].tolist()]
        result = _finish(engine, new_ids, settings.stop_strings, len(ids))
        result.batch_seconds = seconds
        results.append(result)
    return results


def generate_batch(
    engine: BatchEngine,
    prompts: list[str],
    settings: GenerationSettings,
    *,
    batch_size: int = 8,
    logits_processors: Sequence[Any] = (),
) -> list[GenerationOutput]:
    """Replies to ``prompts`` (rendered prompt texts, as ``stream`` takes), in their order.

    With ``settings.seed`` set, batch ``k`` (in length order) samples with seed ``seed + k``,
    so the same prompts with the same settings give the same replies.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    if not prompts:
        return []
    encoded = [[int(token) for token in engine.encode(prompt)[0].tolist()] for prompt in prompts]
    if any(not ids for ids in encoded):
        raise ValueError("every prompt must encode to at least one token")
    order = sorted(range(len(prompts)), key=lambda index: len(encoded[index]))
    results: list[GenerationOutput | None] = [None] * len(prompts)
    for number, start in enumerate(range(0, len(order), batch_size)):
        chunk = order[start : start + batch_size]
        seed = settings.seed + number if settings.seed is not None else None
        outputs = _generate_one_batch(
            engine, [encoded[index] for index in chunk], settings, logits_processors, seed
        )
        for index, result in zip(chunk, outputs, strict=True):
            results[index] = result
    return [result for result in results if result is not None]
