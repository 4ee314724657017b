"""The platform's engine on top of transformers: chat templates and a lean streaming loop.

Why our own decode loop instead of ``generate`` + ``TextIteratorStreamer``: the streamer needs
a second thread and a queue per token, and ``generate`` re-validates its configuration on
each call; a direct loop over ``model(...)`` with the KV cache yields tokens in the caller's
thread (so Ctrl+C and cancellation are immediate) and keeps forward hooks (steering) working.
Sampling itself reuses transformers' logits processors and warpers.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats, TokenEvent
from roleplay.engine.decoding import IncrementalDetokenizer, StopStringScanner
from roleplay.engine.loading import LoadedModel, StatusCallback, load_model

if TYPE_CHECKING:
    import torch

DEFAULT_CONTEXT_WINDOW = 2048


class TransformersEngine:
    """Streams chat replies from a Hugging Face causal LM on the CPU."""

    def __init__(self, loaded: LoadedModel, *, context_window: int | None = None) -> None:
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.model_id = loaded.model_id
        model_limit = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        window = context_window or DEFAULT_CONTEXT_WINDOW
        self.context_window = min(window, model_limit) if model_limit else window
        self._stop_token_ids = self._find_stop_token_ids()

    @classmethod
    def load(
        cls,
        reference: str | None = None,
        *,
        status: StatusCallback | None = None,
        context_window: int | None = None,
    ) -> TransformersEngine:
        loaded = load_model(reference, status=status or (lambda _: None))
        return cls(loaded, context_window=context_window)

    def _find_stop_token_ids(self) -> set[int]:
        ids: set[int] = set()
        eos = self.model.generation_config.eos_token_id
        if isinstance(eos, int):
            ids.add(eos)
        elif eos:
            ids.update(eos)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        # ChatML models end a turn with <|im_end|>; a new <|im_start|> also means the turn ended.
        vocab = self.tokenizer.get_vocab()
        for marker in ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>"):
            if marker in vocab:
                ids.add(vocab[marker])
        return ids

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        conversation = [{"role": m.role, "content": m.content} for m in messages]
        text = self.tokenizer.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )
        return str(text)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def encode(self, text: str) -> torch.Tensor:
        return self.tokenizer(text, return_tensors="pt", add_special_tokens=False)["input_ids"]

    def _sampling_processors(
        self, settings: GenerationSettings, extra: Sequence[Any], prompt_length: int
    ) -> Any:
        from transformers.generation.logits_process import (
            LogitsProcessorList,
            MinNewTokensLengthLogitsProcessor,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        processors = LogitsProcessorList(list(extra))
        if settings.min_new_tokens > 0:
            processors.append(
                MinNewTokensLengthLogitsProcessor(
                    prompt_length, settings.min_new_tokens, sorted(self._stop_token_ids)
                )
            )
        if settings.repetition_penalty != 1.0:
            processors.append(RepetitionPenaltyLogitsProcessor(settings.repetition_penalty))
        if settings.temperature > 0:
            processors.append(TemperatureLogitsWarper(settings.temperature))
            if settings.top_k > 0:
                processors.append(TopKLogitsWarper(settings.top_k))
            if settings.top_p < 1.0:
                processors.append(TopPLogitsWarper(settings.top_p))
        return processors

    def stream(
        self,
        prompt: str,
        settings: GenerationSettings,
        *,
        logits_processors: Sequence[Any] = (),
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[TokenEvent]:
        import torch

        stats = stats if stats is not None else GenerationStats()
        input_ids = self.encode(prompt)
        stats.prompt_tokens = int(input_ids.shape[1])
        processors = self._sampling_processors(settings, logits_processors, stats.prompt_tokens)
        generator = torch.Generator()
        generator.manual_seed(settings.seed if settings.seed is not None else int(time.time_ns()))
        detokenizer = IncrementalDetokenizer(self.tokenizer)
        scanner = StopStringScanner(settings.stop_strings)
        started = time.perf_counter()
        all_ids = input_ids
        next_input = input_ids
        cache = None
        stats.stop_reason = "length"
        try:
            with torch.inference_mode():
                for _ in range(settings.max_new_tokens):
                    if cancel is not None and cancel.is_set():
                        stats.stop_reason = "cancelled"
                        break
                    # logits_to_keep=1: the prefill needs only the last position's logits.
                    outputs = self.model(
                        input_ids=next_input, cache=cache, use_cache=True, logits_to_keep=1
                    )
                    cache = outputs.cache
                    scores = processors(all_ids, outputs.logits[:, -1, :].float())
                    if settings.temperature > 0:
                        probabilities = torch.softmax(scores, dim=-1)
                        token = torch.multinomial(probabilities, 1, generator=generator)
                    else:
                        token = scores.argmax(dim=-1, keepdim=True)
                    token_id = int(token[0, 0])
                    if stats.new_tokens == 0:
                        stats.ttft = time.perf_counter() - started
                    if token_id in self._stop_token_ids:
                        stats.stop_reason = "eos"
                        break
                    stats.new_tokens += 1
                    all_ids = torch.cat([all_ids, token], dim=1)
                    next_input = token
                    piece = scanner.feed(detokenizer.push(token_id))
                    if piece:
                        yield TokenEvent(text=piece, token_ids=[token_id])
                    if scanner.stopped:
                        stats.stop_reason = "stop_string"
                        break
            if not scanner.stopped:
                tail = scanner.flush()
                if tail:
                    yield TokenEvent(text=tail)
        finally:
            stats.seconds = time.perf_counter() - started
