"""The llama.cpp backend: any GGUF file, in process, as it is (mmap, no dequantised copy).

Through llama-cpp-python: its ``Llama`` object for loading, tokenising and the sampling
loop (its ``generate`` reuses the longest cached prefix of the KV cache, so a turn only
evaluates what changed since the last one), and its ctypes layer for what the high level
does not offer: control vectors (``llama_set_adapter_cvec``, the same addition to a layer's
output as the transformers hooks) and reading the layers' outputs through the scheduler's
eval callback (the ``l_out-N`` tensors, as llama.cpp's own ``cvector-generator`` does) to
build steering vectors from the GGUF itself.

The file is checked before llama.cpp sees it (``gguf_check``); llama.cpp's own log is
captured instead of printed, and its last error line becomes the one-line message when a
load still fails (an architecture this llama.cpp does not know, say).
"""

from __future__ import annotations

import codecs
import ctypes
import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from roleplay.engine.base import (
    BackendError,
    Capabilities,
    ChatMessage,
    GenerationSettings,
    GenerationStats,
    TokenEvent,
)
from roleplay.engine.decoding import StopStringScanner
from roleplay.engine.gguf_check import GGUFInfo, check_fits_in_memory, read_gguf_header
from roleplay.engine.llama_cpp_repack import configured_model_loading
from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    import numpy as np
    from llama_cpp import Llama

DEFAULT_CONTEXT_WINDOW = 2048
DEFAULT_BATCH = 512
INSTALL_HINT = (
    "llama-cpp-python is not installed; run `make install` (it compiles llama.cpp once, "
    "a few minutes) or use --backend transformers"
)
# Turn-ending markers some chat templates use without flagging them end-of-generation.
_TURN_MARKERS = ("<|im_end|>", "<|im_start|>", "<|endoftext|>", "<|eot_id|>", "<end_of_turn>")
StatusCallback = Callable[[str], None]
_GGML_LOG_LEVEL_ERROR = 4  # ggml.h: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5


def import_llama_cpp() -> Any:
    """The ``llama_cpp`` module, or a one-line error with the install hint."""
    try:
        import llama_cpp
    except ImportError:
        raise RoleplayError(INSTALL_HINT) from None
    return llama_cpp


class _LlamaLog:
    """Receives llama.cpp's log instead of stderr; keeps the recent error lines."""

    def __init__(self) -> None:
        self.errors: deque[str] = deque(maxlen=8)
        self._callback: Any = None

    def install(self, llama_cpp: Any) -> None:
        if self._callback is not None:
            return

        def receive(level: int, text: bytes, _user_data: Any) -> None:
            if level == _GGML_LOG_LEVEL_ERROR and text:
                line = text.decode("utf-8", errors="replace").strip()
                if line:
                    self.errors.append(line)

        self._callback = llama_cpp.llama_log_callback(receive)  # kept alive: C holds it
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))

    def last_error(self) -> str:
        """The most telling recent error: the loader's reason, without llama.cpp's prefix."""
        for line in reversed(self.errors):
            if "error loading model:" in line:
                return line.split("error loading model:", 1)[1].strip()
        return self.errors[-1] if self.errors else "llama.cpp could not load it"


_log = _LlamaLog()


def _render_template(template: str, messages: Sequence[ChatMessage], bos: str, eos: str) -> str:
    """Render a GGUF's Jinja chat template in a sandbox (templates are data from the file)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message: str) -> None:
        raise TemplateError(message)

    environment = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    environment.globals["raise_exception"] = raise_exception
    environment.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
    compiled = environment.from_string(template)
    return compiled.render(
        messages=[{"role": m.role, "content": m.content} for m in messages],
        add_generation_prompt=True,
        bos_token=bos,
        eos_token=eos,
    )


def gguf_model_id(reference: str | Path | None) -> str:
    """The model id of a GGUF (``None``: the embedded default): its name and content digest."""
    from roleplay.engine.default_model import DEFAULT_MODEL_NAME, default_gguf_path
    from roleplay.engine.file_identity import content_digest

    path = default_gguf_path() if reference is None else Path(reference).expanduser()
    name = DEFAULT_MODEL_NAME if reference is None else path.stem
    return f"{name}-{content_digest(path)}"


class LlamaCppEngine:
    """Streams chat replies from a GGUF model through llama.cpp."""

    backend_name = "llama.cpp"
    capabilities = Capabilities(
        backend="llama.cpp",
        steering="control_vectors",
        hidden_states=True,
        logprobs=True,
        grammar="gbnf",
    )

    def __init__(
        self, llm: Llama, info: GGUFInfo, *, model_id: str, threads: int, batch_size: int
    ) -> None:
        self.llm = llm
        self.info = info
        self.path = info.path
        self.model_id = model_id
        self.threads = threads
        self.batch_size = batch_size
        self.context_window = int(llm.n_ctx())
        self.n_layer = int(self._lib.llama_model_n_layer(llm.model))
        self.n_embd = int(llm.n_embd())
        self._template = llm.metadata.get("tokenizer.chat_template", "")
        self._bos_id = int(llm.token_bos())
        self._bos_text = self._piece(self._bos_id) if self._bos_id >= 0 else ""
        eos = int(llm.token_eos())
        self._eos_text = self._piece(eos) if eos >= 0 else ""
        self.stop_token_ids = self._find_stop_token_ids()
        self._grammars: dict[str, Any] = {}
        # Control vector: what the context holds, and what the cached KV was computed with.
        self._loaded_vector: tuple[str, np.ndarray] | None = None
        self._wanted_vector: tuple[str, np.ndarray] | None = None
        self._kv_vector_key: str | None = None
        # Steer only the reply's tokens (the prompt's are computed without the vector).
        self._steer_prompt = True
        # Tokens over which the vector halves during a reply (None: constant).
        self._half_life: float | None = None
        # How many leading cached tokens were computed without the vector, when only the
        # reply is steered (a later prompt may reuse those cells, not the steered ones).
        self._unsteered_cached = 0
        self.lock = threading.RLock()  # one reply at a time on the one KV cache
        # Tokens whose KV cells scoring left in the context (None: the chat owns them), and
        # how many of them lead computed without the vector.
        self.scored_prefix: list[int] | None = None
        self.scored_unsteered = 0

    @property
    def _lib(self) -> Any:
        return import_llama_cpp()

    @classmethod
    def load(
        cls,
        reference: str | Path | None = None,
        *,
        status: StatusCallback | None = None,
        context_window: int | None = None,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH,
    ) -> LlamaCppEngine:
        """Check and load a GGUF (``None``: the embedded default model)."""
        from roleplay.engine.default_model import default_gguf_path
        from roleplay.engine.threads import choose_threads

        say = status or (lambda _: None)
        path = default_gguf_path() if reference is None else Path(reference).expanduser()
        info = read_gguf_header(path)
        if not info.has_chat_template:
            raise RoleplayError(
                f"{path}: the model has no chat template (tokenizer.chat_template); "
                "use a chat/instruct model"
            )
        check_fits_in_memory(info)
        llama_cpp = import_llama_cpp()
        _log.install(llama_cpp)
        chosen_threads = choose_threads(threads)
        window = context_window or DEFAULT_CONTEXT_WINDOW
        if info.context_length:
            window = min(window, info.context_length)
        model_id = gguf_model_id(reference)
        say(f"Loading {path.name} with llama.cpp ({chosen_threads} threads)...")
        _log.errors.clear()
        try:
            with configured_model_loading():
                llm = llama_cpp.Llama(
                    model_path=str(path),
                    n_ctx=window,
                    n_batch=min(batch_size, window),
                    n_threads=chosen_threads,
                    n_threads_batch=chosen_threads,
                    verbose=False,
                    logits_all=False,
                )
        except (ValueError, RuntimeError, OSError) as error:
            reason = _log.last_error() if _log.errors else str(error)
            raise RoleplayError(
                f"{path}: llama.cpp cannot load it ({info.architecture} model): {reason}"
            ) from None
        return cls(llm, info, model_id=model_id, threads=chosen_threads, batch_size=batch_size)

    # Text and tokens ------------------------------------------------------------------

    def _piece(self, token: int) -> str:
        return bytes(self.llm.detokenize([token], special=True)).decode("utf-8", "replace")

    def _find_stop_token_ids(self) -> set[int]:
        """End-of-generation tokens, plus turn markers that some templates end turns with."""
        ids = {
            token
            for token in (int(self.llm.token_eos()), int(self.llm._model.token_eot()))
            if token >= 0
        }
        for marker in _TURN_MARKERS:
            encoded = self.llm.tokenize(marker.encode(), add_bos=False, special=True)
            if len(encoded) == 1:  # a control token of this vocabulary, not spelled out
                ids.add(int(encoded[0]))
        return ids

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        from jinja2 import TemplateError

        try:
            return _render_template(self._template, messages, self._bos_text, self._eos_text)
        except TemplateError as error:
            raise RoleplayError(
                f"{self.path.name}: its chat template refused the conversation: {error}"
            ) from None

    def tokenize(self, text: str) -> list[int]:
        """Token ids of a rendered prompt; special markers in it are parsed as such."""
        ids = self.llm.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if len(ids) > 1 and ids[0] == self._bos_id and ids[1] == self._bos_id:
            ids = ids[1:]  # the template already wrote the BOS token
        return [int(token) for token in ids]

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return bytes(self.llm.detokenize(list(token_ids))).decode("utf-8", "replace")

    # Control vectors ------------------------------------------------------------------

    def set_control_vector(
        self,
        key: str | None,
        per_layer: Mapping[int, Any] | None,
        *,
        steer_prompt: bool = True,
        half_life: float | None = None,
    ) -> None:
        """Ask for ``per_layer`` (layer index -> [n_embd] float32) from the next reply on.

        ``key`` names the content (the same key is the same vector): the KV cache computed
        under one vector is reused only under the same key. ``None`` clears the vector.
        Layer 0 cannot carry a vector in llama.cpp (its buffer starts at layer 1).

        ``steer_prompt=False`` steers only what the model writes: a reply's prompt (card,
        history, the character's own earlier replies) is computed without the vector and
        the reply's tokens with it, from the last prompt token on, so its first token is
        steered too; in scoring, the scored tokens of a sequence from ``start - 1`` on.

        ``half_life`` (tokens) decays the vector over a generated reply: the prompt is
        computed at full strength (or unsteered, with ``steer_prompt=False``), the reply's
        n-th position (0: the prompt's last token) at ``0.5 ** (n / half_life)`` of it.
        The reply's cells are dropped from the KV cache afterwards (they hold a strength the
        next prompt would not), so the next turn computes them again. Scoring
        (``sequence_logprobs``) applies the undecayed vector.
        """
        import numpy as np

        if half_life is not None and not (math.isfinite(half_life) and half_life > 0):
            raise RoleplayError(f"a control vector's half-life must be > 0 tokens, not {half_life}")
        self._steer_prompt = steer_prompt or key is None or not per_layer
        self._half_life = half_life if key is not None and per_layer else None
        if key is None or not per_layer:
            self._wanted_vector = None
            return
        if not steer_prompt:
            key += "@reply-only"  # its KV cells hold another computation than the key's
        buffer = np.zeros((self.n_layer - 1) * self.n_embd, dtype=np.float32)
        for layer, vector in per_layer.items():
            if not 1 <= layer < self.n_layer:
                raise RoleplayError(
                    f"llama.cpp cannot steer layer {layer} (layers 1..{self.n_layer - 1})"
                )
            values = np.asarray(vector, dtype=np.float32).reshape(-1)
            if values.shape[0] != self.n_embd:
                raise RoleplayError(
                    f"a control vector of {values.shape[0]} values for a model of {self.n_embd}"
                )
            buffer[(layer - 1) * self.n_embd : layer * self.n_embd] = values
        self._wanted_vector = (key, buffer)

    @property
    def steers_prompt(self) -> bool:
        """False while a vector is wanted for the reply's tokens only."""
        return self._steer_prompt

    def _load_vector(self, vector: tuple[str, np.ndarray] | None) -> None:
        """Put ``vector`` (or none) into the context, for the next decodes."""
        loaded_key = self._loaded_vector[0] if self._loaded_vector else None
        if (vector[0] if vector else None) == loaded_key:
            return
        context = self.llm._ctx.ctx
        if vector is None:
            result = self._lib.llama_set_adapter_cvec(context, None, 0, self.n_embd, -1, -1)
        else:
            buffer = vector[1]
            pointer = buffer.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
            result = self._lib.llama_set_adapter_cvec(
                context, pointer, buffer.size, self.n_embd, 1, self.n_layer - 1
            )
        if result != 0:
            raise BackendError(f"llama.cpp refused the control vector (code {result})")
        self._loaded_vector = vector

    def _load_decayed(self, position: int) -> None:
        """The wanted vector at reply position ``position``'s strength, for the next decode."""
        wanted, half_life = self._wanted_vector, self._half_life
        if wanted is None or half_life is None:
            return
        scale = 0.5 ** (position / half_life)
        self._load_vector((f"{wanted[0]}@x{scale!r}", wanted[1] * scale))  # stays float32

    def _forget_reply_cells(self, prompt_length: int) -> None:
        """Drop the KV cells after the prompt (computed under a decayed vector)."""
        self.llm._ctx.kv_cache_seq_rm(-1, prompt_length, -1)
        self.llm.n_tokens = min(self.llm.n_tokens, prompt_length)

    def load_vector_for_reply(self, reply: bool) -> None:
        """Scoring's switch when only replies are steered: the vector for a reply's tokens,
        none for its prompt's."""
        self._load_vector(self._wanted_vector if reply else None)

    def _sync_control_vector(self) -> None:
        """Load the wanted vector into the context; drop a KV cache computed otherwise."""
        wanted = self._wanted_vector
        wanted_key = wanted[0] if wanted else None
        self._load_vector(wanted)
        if self._kv_vector_key != wanted_key:
            self.llm.reset()  # the cached prefix was computed without (or with another) vector
            self.scored_prefix = None
            self._kv_vector_key = wanted_key
            self._unsteered_cached = 0

    def _prefill_unsteered(self, prefix: list[int]) -> None:
        """Compute ``prefix`` without the vector, reusing only cells computed the same way."""
        cached = self.llm._input_ids.tolist()
        shared = 0
        for a, b in zip(cached[: self._unsteered_cached], prefix, strict=False):
            if a != b:
                break
            shared += 1
        self._load_vector(None)
        self.llm._ctx.kv_cache_seq_rm(-1, shared, -1)
        self.llm.n_tokens = shared
        if len(prefix) > shared:
            self.llm.eval(prefix[shared:])
        self._unsteered_cached = len(prefix)

    # Generation ------------------------------------------------------------------------

    def _grammar(self, text: str) -> Any:
        grammar = self._grammars.get(text)
        if grammar is None:
            from llama_cpp import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_string(text, verbose=False)
            except ValueError as error:
                raise RoleplayError(f"llama.cpp cannot parse the grammar: {error}") from None
            self._grammars[text] = grammar
        return grammar

    def _processors(
        self, settings: GenerationSettings, extra: Sequence[Any], prompt_length: int
    ) -> Any:
        """llama-cpp-python processors: the callers' torch ones adapted, plus min tokens."""
        processors: list[Callable[[Any, Any], Any]] = []
        if extra:
            processors.append(_TorchProcessors(extra))
        if settings.min_new_tokens > 0:
            processors.append(
                _SuppressUntil(prompt_length, settings.min_new_tokens, self.stop_token_ids)
            )
        if not processors:
            return None
        from llama_cpp import LogitsProcessorList

        return LogitsProcessorList(processors)

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
        stats = stats if stats is not None else GenerationStats()
        with self.lock:
            yield from self._stream(prompt, settings, logits_processors, grammar, cancel, stats)

    def _stream(
        self,
        prompt: str,
        settings: GenerationSettings,
        logits_processors: Sequence[Any],
        grammar: str | None,
        cancel: threading.Event | None,
        stats: GenerationStats,
    ) -> Iterator[TokenEvent]:
        started = time.perf_counter()
        tokens = self.tokenize(prompt)
        stats.prompt_tokens = len(tokens)
        if len(tokens) + 1 > self.context_window:
            raise RoleplayError(
                f"the prompt has {len(tokens)} tokens; the context window is "
                f"{self.context_window} (raise --context-window)"
            )
        budget = min(settings.max_new_tokens, self.context_window - len(tokens))
        self._sync_control_vector()
        self.scored_prefix = None  # generation rewrites the KV cells scoring left behind
        if settings.seed is not None:
            # A seeded reply is computed from scratch, so that the same seed gives the
            # same reply whatever was cached before (batch boundaries change rounding).
            self.llm.reset()
        if not self._steer_prompt:
            # The prompt but its last token without the vector; generate() then finds it
            # cached and evaluates the last token, and the reply, with the vector.
            self._prefill_unsteered(tokens[:-1])
            self._load_vector(self._wanted_vector)
        self.llm.set_seed(
            settings.seed if settings.seed is not None else random.randrange(2**31 - 1)
        )
        greedy = settings.temperature <= 0
        generator = self.llm.generate(
            tokens,
            top_k=settings.top_k if not greedy else 1,
            top_p=settings.top_p,
            min_p=0.0,
            temp=settings.temperature,
            repeat_penalty=settings.repetition_penalty,
            logits_processor=self._processors(settings, logits_processors, len(tokens)),
            grammar=self._grammar(grammar) if grammar else None,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = StopStringScanner(settings.stop_strings)
        stats.stop_reason = "length"
        pending: list[int] = []  # tokens whose text is not out yet (a character's first bytes)
        decays = self._half_life is not None and self._wanted_vector is not None
        sampled = 0
        try:
            for token in generator:
                sampled += 1
                if decays:
                    # generate() evaluates this token when asked for the next one
                    self._load_decayed(sampled)
                if stats.new_tokens == 0:
                    stats.ttft = time.perf_counter() - started
                if token in self.stop_token_ids:
                    stats.stop_reason = "eos"
                    break
                stats.new_tokens += 1
                pending.append(int(token))
                piece = scanner.feed(decoder.decode(self.llm.detokenize([token])))
                if piece:
                    yield TokenEvent(text=piece, token_ids=pending)
                    pending = []
                if scanner.stopped:
                    stats.stop_reason = "stop_string"
                    break
                if stats.new_tokens >= budget:
                    break
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = "cancelled"
                    break
            if not scanner.stopped:
                tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
                if tail:
                    yield TokenEvent(text=tail, token_ids=pending)
        finally:
            generator.close()
            if decays:
                self._forget_reply_cells(len(tokens))
            stats.seconds = time.perf_counter() - started

    # Hidden states and scoring ---------------------------------------------------------

    def layer_outputs(
        self, sequences: Sequence[Sequence[int]], layers: Sequence[int]
    ) -> list[dict[int, np.ndarray]]:
        """Each layer's output ([tokens, n_embd] float32) for each token sequence.

        Read through the scheduler's eval callback on a separate context, so the chat's
        KV cache is untouched. No control vector is applied there: vectors are built from
        the unsteered model.
        """
        from roleplay.engine.llama_cpp_hidden import record_layer_outputs

        with self.lock:
            return record_layer_outputs(self, sequences, layers)

    def sequence_logprobs(
        self, sequences: Sequence[Sequence[int]], starts: Sequence[int]
    ) -> list[np.ndarray]:
        """For each sequence, log-softmax rows at positions ``start-1 .. len-2``.

        Row ``k`` is the model's prediction of token ``start + k`` (with the control
        vector in force, as in chat). Used to score text (persona interviews).
        """
        from roleplay.engine.llama_cpp_hidden import score_sequences

        with self.lock:
            self._sync_control_vector()
            return score_sequences(self, sequences, starts)


class _TorchProcessors:
    """Runs transformers-style logits processors (torch tensors) inside llama.cpp's sampler."""

    def __init__(self, processors: Sequence[Any]) -> None:
        self.processors = list(processors)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        import numpy as np
        import torch

        ids = torch.from_numpy(np.asarray(input_ids, dtype=np.int64)).unsqueeze(0)
        current = torch.from_numpy(np.array(scores, dtype=np.float32)).unsqueeze(0)
        for processor in self.processors:
            current = processor(ids, current)
        return current[0].numpy()


class _SuppressUntil:
    """End-of-turn tokens are impossible until ``minimum`` reply tokens exist."""

    def __init__(self, prompt_length: int, minimum: int, stop_ids: set[int]) -> None:
        self.prompt_length = prompt_length
        self.minimum = minimum
        self.stop_ids = sorted(stop_ids)

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        if len(input_ids) - self.prompt_length < self.minimum:
            scores[self.stop_ids] = -float("inf")
        return scores
