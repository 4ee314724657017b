"""The reference engine on top of transformers: chat templates and a lean streaming loop.

Why our own decode loop instead of ``generate`` + ``TextIteratorStreamer``: the streamer needs
a second thread and a queue per token, and ``generate`` re-validates its configuration on
each call; a direct loop over the model with a KV cache yields tokens in the caller's thread
(so Ctrl+C and cancellation are immediate) and keeps forward hooks (steering) working.
Sampling reuses transformers' logits processors; ``decoding.TruncatedSampler`` draws the token.

The model runs as transformers loads it, in float32: this backend is the reference
implementation of every operation (steering hooks, hidden states, log-probabilities). Its
int8/TorchScript fast path was removed: in the side-by-side on the default model
(``benchmarks/backends.py``, 10-turn chat, steering on) llama.cpp decoded ~1.5x faster
(55-76 vs 38-51 tok/s), so llama.cpp is the fast path now (docs/backends.md, docs/speed.md).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import (
    Capabilities,
    ChatMessage,
    GenerationSettings,
    GenerationStats,
    TokenEvent,
)
from roleplay.engine.decoding import (
    IncrementalDetokenizer,
    StopStringScanner,
    SuppressTokensUntil,
    TruncatedSampler,
)
from roleplay.engine.loading import LoadedModel, StatusCallback, load_model

if TYPE_CHECKING:
    import torch

DEFAULT_CONTEXT_WINDOW = 2048


class TransformersEngine:
    """Streams chat replies from a Hugging Face causal LM on the CPU."""

    backend_name = "transformers"
    # Steering hooks on decoder layers; grammars as transformers-cfg logits processors.
    capabilities = Capabilities(
        backend="transformers",
        steering="hooks",
        hidden_states=True,
        logprobs=True,
        grammar="processor",
    )

    def __init__(
        self,
        loaded: LoadedModel,
        *,
        context_window: int | None = None,
    ) -> None:
        """Wrap a loaded model as it is (float32, transformers' own forward)."""
        self.loaded = loaded
        self.model = loaded.model
        self.tokenizer = loaded.tokenizer
        self.model_id = loaded.model_id
        model_limit = int(getattr(self.model.config, "max_position_embeddings", 0) or 0)
        window = context_window or DEFAULT_CONTEXT_WINDOW
        self.context_window = min(window, model_limit) if model_limit else window
        self.stop_token_ids = self._find_stop_token_ids()

    @classmethod
    def load(
        cls,
        reference: str | None = None,
        *,
        status: StatusCallback | None = None,
        context_window: int | None = None,
        torch_threads: int | None = None,
    ) -> TransformersEngine:
        """Load a model in float32.

        ``torch_threads``: default from ``roleplay.engine.threads.choose_threads``.
        """
        from roleplay.engine.threads import choose_threads

        threads = choose_threads(torch_threads)
        loaded = load_model(reference, status=status or (lambda _: None), torch_threads=threads)
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

    def sampling_processors(
        self,
        settings: GenerationSettings,
        extra: Sequence[Any],
        prompt_length: int,
        *,
        repetition_penalty: Any = None,
        warpers: bool = True,
    ) -> Any:
        """The logits processors for ``settings``, after the caller's ``extra`` ones.

        ``repetition_penalty`` replaces transformers' processor for that setting (batching
        passes one that skips padding); the order stays the same either way. ``warpers=False``
        leaves out temperature, top-k and top-p, for a caller that samples with
        ``TruncatedSampler`` (which applies them itself, in the same order).
        """
        from transformers.generation.logits_process import (
            LogitsProcessorList,
            RepetitionPenaltyLogitsProcessor,
            TemperatureLogitsWarper,
            TopKLogitsWarper,
            TopPLogitsWarper,
        )

        processors = LogitsProcessorList(list(extra))
        if settings.min_new_tokens > 0:
            processors.append(
                SuppressTokensUntil(
                    prompt_length, settings.min_new_tokens, sorted(self.stop_token_ids)
                )
            )
        if settings.repetition_penalty != 1.0:
            processors.append(
                repetition_penalty or RepetitionPenaltyLogitsProcessor(settings.repetition_penalty)
            )
        if settings.temperature > 0 and warpers:
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
        messages: Sequence[ChatMessage] | None = None,
        logits_processors: Sequence[Any] = (),
        grammar: str | None = None,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[TokenEvent]:
        # ``messages`` is already rendered into ``prompt``; a grammar arrives as a processor.
        import torch

        stats = stats if stats is not None else GenerationStats()
        input_ids = self.encode(prompt)
        prompt_length = int(input_ids.shape[1])
        stats.prompt_tokens = prompt_length
        processors = self.sampling_processors(
            settings, logits_processors, prompt_length, warpers=False
        )
        generator = torch.Generator()
        generator.manual_seed(settings.seed if settings.seed is not None else int(time.time_ns()))
        sample = TruncatedSampler(settings.temperature, settings.top_k, settings.top_p, generator)
        detokenizer = IncrementalDetokenizer(self.tokenizer)
        scanner = StopStringScanner(settings.stop_strings)
        started = time.perf_counter()
        # Prompt and reply ids in one preallocated row: processors see a view of the filled
        # part, and no step concatenates.
        all_ids = torch.empty(1, prompt_length + settings.max_new_tokens, dtype=torch.long)
        all_ids[:, :prompt_length] = input_ids
        length = prompt_length
        # Each reply computes its prompt from scratch (no prefix kept between replies), so
        # the same seed gives the same reply whatever ran before.
        decoder = _Decoder(self.model)
        stats.stop_reason = "length"
        try:
            with torch.inference_mode():
                for _ in range(settings.max_new_tokens):
                    if cancel is not None and cancel.is_set():
                        stats.stop_reason = "cancelled"
                        break
                    if length == prompt_length:
                        logits = decoder.prefill(input_ids)
                    else:
                        logits = decoder.step(all_ids[:, length - 1 : length])
                    scores = processors(all_ids[:, :length], logits.float())
                    if settings.temperature > 0:
                        token_id = sample(scores)
                    else:
                        token_id = int(scores[0].argmax())
                    if stats.new_tokens == 0:
                        stats.ttft = time.perf_counter() - started
                    if token_id in self.stop_token_ids:
                        stats.stop_reason = "eos"
                        break
                    stats.new_tokens += 1
                    all_ids[0, length] = token_id
                    length += 1
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
            decoder.close()
            stats.seconds = time.perf_counter() - started


class _Decoder:
    """One reply's forward passes through transformers, with its own KV cache."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._cache: Any = None

    def prefill(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Logits [1, vocab] after the prompt."""
        return self._forward(input_ids)

    def step(self, token: torch.Tensor) -> torch.Tensor:
        """Logits [1, vocab] after one more token (``token``: [1, 1])."""
        return self._forward(token)

    def _forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        # logits_to_keep=1: the prefill needs only the last position's logits.
        outputs = self._model(
            input_ids=input_ids, cache=self._cache, use_cache=True, logits_to_keep=1
        )
        self._cache = outputs.cache
        return outputs.logits[:, -1, :]  # type: ignore[no-any-return]

    def close(self) -> None:
        self._cache = None
