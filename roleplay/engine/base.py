"""The backend contract: the only thing the pipeline knows about a language model.

Three backends implement it (docs/backends.md): ``llama_cpp_engine.LlamaCppEngine`` (any GGUF
file, in process; the default), ``transformers_engine.TransformersEngine`` (Hugging Face
checkpoints, the reference path) and ``openai_engine.OpenAIEngine`` (any OpenAI-compatible
server). A test can implement it with a scripted or tiny random model. What a backend cannot
do is a capability it reports (``Capabilities``); faces say which method was used.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class GenerationSettings:
    """Sampling settings for one reply. ``temperature == 0`` means greedy decoding."""

    max_new_tokens: int = 160
    min_new_tokens: int = 0  # end-of-turn tokens are suppressed until this many were produced
    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 50
    repetition_penalty: float = 1.1
    seed: int | None = None
    stop_strings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be at least 1")
        if self.temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


# The chat's sampling defaults: the one source that faces (CLI options, serve), the audit
# and data files (dialogue.yaml) refer to instead of repeating the numbers.
DEFAULT_GENERATION = GenerationSettings()


@dataclass
class TokenEvent:
    """One streamed piece of the reply: the new text and the token ids that produced it."""

    text: str
    token_ids: list[int] = field(default_factory=list)


@dataclass
class GenerationStats:
    new_tokens: int = 0
    prompt_tokens: int = 0
    seconds: float = 0.0  # prefill + decode of this reply, model loading excluded
    ttft: float = 0.0  # seconds until the first token was produced
    stop_reason: Literal["eos", "stop_string", "length", "cancelled"] = "length"

    @property
    def tokens_per_second(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


class BackendError(Exception):
    """A backend failed while generating (a server died mid-reply, an HTTP error...).

    ``exit_code`` follows the CLI's convention: 2 for the user's input (a bad URL, a wrong
    key, an unknown model), 1 for a failure of the other side (a 5xx, a lost connection).
    """

    def __init__(self, message: str, *, exit_code: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


SteeringMethod = Literal["control_vectors", "hooks", "prompt"]


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do; the controller and the faces adapt to it."""

    backend: str  # "llama.cpp" | "transformers" | "openai" | a test's name
    steering: SteeringMethod  # how attribute steering reaches the model
    hidden_states: bool = False  # activations can be recorded (steering vectors are built)
    logprobs: bool = False  # text can be scored (persona interviews)
    # the next token's most likely alternatives are reported (a server's ``top_logprobs``):
    # enough for the expected-likert interview, not for scoring arbitrary text
    top_logprobs: bool = False
    grammar: Literal["gbnf", "processor", "none"] = "none"  # how constrained decoding runs
    logits_processors: bool = True  # Python logits processors are applied while sampling


@runtime_checkable
class Engine(Protocol):
    """A chat model that renders prompts and streams tokens."""

    model_id: str
    context_window: int

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The exact text the model sees, with the generation prompt appended."""
        ...

    def count_tokens(self, text: str) -> int: ...

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
        """Yield the reply piece by piece; fills ``stats`` when given.

        ``prompt`` is ``render_chat(messages)``: local backends run the text, a server
        backend sends ``messages`` (its server applies the template). ``grammar`` is GBNF
        text for backends whose ``capabilities.grammar`` is "gbnf" (the controller compiles
        it into a logits processor for the others). Failures raise ``BackendError``.
        """
        ...


def capabilities_of(engine: object) -> Capabilities:
    """The engine's declared capabilities; an engine that declares none is a plain one."""
    declared = getattr(engine, "capabilities", None)
    if isinstance(declared, Capabilities):
        return declared
    return Capabilities(backend=type(engine).__name__, steering="prompt")
