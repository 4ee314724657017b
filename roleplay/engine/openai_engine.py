"""The OpenAI-compatible backend: any server that speaks ``/v1/chat/completions``.

llama.cpp's server (and llama-cpp-python's), vLLM, Ollama, KoboldCpp, TGI, LM Studio... all
accept the same chat request, through the official ``openai`` client. The server applies its
own chat template, so this backend sends ``messages`` and never the rendered prompt; it
cannot steer with hidden states or run Python logits processors (``capabilities`` says so,
the controller falls back to prompt steering).

Server dialects, sent where harmless (servers ignore fields they do not know):

* ``top_k``, ``repeat_penalty`` (llama.cpp), ``repetition_penalty`` (vLLM) and ``min_tokens``
  go in the request's extra body. A server that rejects unknown fields with a 400/422 gets
  the request again without them, and from then on never sees them.
* ``grammar`` (GBNF text) is llama.cpp's field; vLLM and Ollama ignore it, so there the reply
  is unconstrained.
* ``stream_options={"include_usage": True}`` asks for the exact count of generated tokens;
  servers that do not report usage (llama-cpp-python's) are counted one chunk per token.
* At most four stop strings go to the server (OpenAI's limit); all of them are also applied
  here, so the reply stops even on a server that ignores ``stop``.

Failures raise ``BackendError`` with one line naming the server and what happened; a stream
that ends without a finish reason (the server died, or interrupted the reply) is a failure,
never a shorter reply.
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from roleplay.engine.base import (
    BackendError,
    Capabilities,
    ChatMessage,
    GenerationSettings,
    GenerationStats,
    TokenEvent,
)
from roleplay.engine.decoding import StopStringScanner
from roleplay.errors import RoleplayError
from roleplay.settings import get_settings, reveal

if TYPE_CHECKING:
    from openai import OpenAI

DEFAULT_CONTEXT_WINDOW = 4096
DEFAULT_TIMEOUT = 60.0
DEFAULT_CONCURRENCY = 4
PLACEHOLDER_API_KEY = "not-needed"  # local servers ignore the key; the client wants one
API_KEY_VARIABLES = ("ROLEPLAY_API_KEY", "OPENAI_API_KEY")
MAX_SERVER_STOP_STRINGS = 4  # OpenAI's limit; the rest are applied client-side
# count_tokens: UTF-8 bytes / 3.2. BPE vocabularies average ~4 bytes per token on English
# and ~3.5 on other Latin-script text, so this over-counts: a prompt budgeted with it fits.
BYTES_PER_TOKEN = 3.2
MAX_TOP_LOGPROBS = 20  # OpenAI's limit on top_logprobs
# Where servers report a model's context length in their /v1/models entries.
_CONTEXT_KEYS = ("max_model_len", "context_length", "max_context_length", "context_window")
_META_CONTEXT_KEYS = ("n_ctx", "n_ctx_train")  # llama.cpp's server: entry["meta"]
_EXTRA_FIELDS = ("top_k", "repeat_penalty", "repetition_penalty", "min_tokens")
INSTALL_HINT = "the openai package is not installed; run: pip install openai"
StatusCallback = Callable[[str], None]


def import_openai() -> Any:
    """The ``openai`` module, or a one-line error with the install hint."""
    try:
        import openai
    except ImportError:
        raise RoleplayError(INSTALL_HINT) from None
    return openai


def resolve_api_key(api_key: str | None) -> str:
    """The argument, else $ROLEPLAY_API_KEY, else $OPENAI_API_KEY, else a placeholder.

    (Either key may also come from config.toml: ``api_key``, ``openai_api_key``.)
    """
    if api_key:
        return api_key
    settings = get_settings()
    # API_KEY_VARIABLES' order.
    return reveal(settings.api_key) or reveal(settings.openai_api_key) or PLACEHOLDER_API_KEY


def normalize_base_url(base_url: str) -> str:
    """An http(s) URL without a trailing slash; a bare host gets ``/v1`` appended."""
    text = (base_url or "").strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise RoleplayError(
            f"--base-url {text!r}: use an http:// or https:// URL, e.g. http://127.0.0.1:8080/v1"
        )
    path = parts.path.rstrip("/") or "/v1"  # every supported server serves the API under /v1
    return urlunsplit((parts.scheme.lower(), parts.netloc, path, parts.query, ""))


def _first_line(text: str, limit: int = 200) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _body_message(body: object) -> str | None:
    """The server's own explanation inside an error body (OpenAI, FastAPI, vLLM shapes)."""
    if isinstance(body, str):
        return body or None
    if isinstance(body, dict):
        for key in ("message", "detail", "error", "msg"):
            if key in body:
                found = _body_message(body[key])
                if found:
                    return found
    if isinstance(body, list) and body:
        return _body_message(body[0])
    return None


def _transport_reason(error: BaseException) -> str:
    """A connection failure in words, from the exception chain the client raised."""
    seen: list[str] = []
    current: BaseException | None = error
    while current is not None and len(seen) < 6:
        seen.append(f"{type(current).__name__}: {current}")
        current = current.__cause__ or current.__context__
    text = " | ".join(seen).lower()
    if "refused" in text:
        return "connection refused (is the server running?)"
    if "remoteprotocolerror" in text or "incomplete" in text or "peer closed" in text:
        return "the server closed the connection mid-reply"
    if "name or service not known" in text or "nodename nor servname" in text:
        return "unknown host"
    if "ssl" in text or "certificate" in text:
        return "TLS failure"
    innermost = seen[-1].split(": ", 1)[-1] if seen else ""
    return _first_line(innermost) or "connection failed"


def describe_error(error: BaseException, timeout: float) -> tuple[str, int]:
    """(one-line reason, exit code) for an exception raised by the openai client or httpx."""
    openai = import_openai()
    if isinstance(error, openai.APITimeoutError):
        return f"no answer within {timeout:g} s (timed out)", 1
    if isinstance(error, openai.APIConnectionError):
        return _transport_reason(error), 1
    if isinstance(error, openai.APIStatusError):
        status = int(error.status_code)
        detail = _first_line(_body_message(error.body) or error.message)
        if status == 401:
            return (
                f"401 unauthorized: the server refused the API key "
                f"(pass --api-key or set $ROLEPLAY_API_KEY): {detail}",
                2,
            )
        if status == 403:
            return f"403 forbidden: {detail}", 2
        if status == 404:
            return f"404 not found: {detail}", 2
        if status == 429:
            return f"429 too many requests: {detail}", 1
        if status >= 500:
            return f"server error {status}: {detail}", 1
        return f"request refused ({status}): {detail}", 2
    if isinstance(error, openai.APIError):  # an error event inside the stream
        return _first_line(_body_message(error.body) or error.message), 1
    return _transport_reason(error), 1  # httpx errors the client did not wrap


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The openai client's errors plus raw httpx ones (a stream cut mid-reply)."""
    errors: list[type[BaseException]] = [import_openai().OpenAIError]
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        errors.append(module.HTTPError)
        errors.append(module.StreamError)
    return tuple(errors)


def _connection_dropped(error: BaseException) -> bool:
    """Whether ``error`` is a lost connection, not a timeout or an error the server sent."""
    openai = import_openai()
    if isinstance(error, openai.APITimeoutError):
        return False  # the server may still be generating: asking again would double it
    if isinstance(error, openai.APIConnectionError):
        return True
    for name in ("httpx2", "httpx"):  # raw errors the client did not wrap
        module = sys.modules.get(name)
        if module is None or not isinstance(error, module.TransportError):
            continue
        return not isinstance(error, module.TimeoutException)
    return False


def _context_length(entry: Any) -> int | None:
    """The context length a server reports for a model entry, if any."""
    extra = getattr(entry, "model_extra", None) or {}
    for key in _CONTEXT_KEYS:
        value = extra.get(key)
        if isinstance(value, int) and value > 0:
            return value
    meta = extra.get("meta")
    if isinstance(meta, dict):
        for key in _META_CONTEXT_KEYS:
            value = meta.get(key)
            if isinstance(value, int) and value > 0:
                return value
    return None


class OpenAIEngine:
    """Streams chat replies from an OpenAI-compatible server."""

    backend_name = "openai"
    capabilities = Capabilities(
        backend="openai",
        steering="prompt",
        hidden_states=False,
        logprobs=False,
        top_logprobs=True,  # OpenAI, vLLM and llama.cpp servers report them; others: one line
        grammar="gbnf",  # llama.cpp servers honour it; others ignore the field (see above)
        logits_processors=False,
    )

    def __init__(
        self,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        context_window: int | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        """Connect to the server and pick the model; failures raise ``RoleplayError``."""
        openai = import_openai()
        self.base_url = normalize_base_url(base_url)
        self.timeout = float(timeout)
        self.concurrency = max(1, int(concurrency))
        # No client retries: a retried chat request makes the server generate the reply a
        # second time (its compute, its billing), and a half-streamed reply cannot be
        # resumed; failures are reported instead. The exceptions are a connection lost
        # before any of the reply arrived (``_create`` and ``_stream``).
        self.client: OpenAI = openai.OpenAI(
            base_url=self.base_url,
            api_key=resolve_api_key(api_key),
            timeout=self.timeout,
            max_retries=0,
        )
        self._plain_requests = False  # the server refused the extra-body fields once
        entries = self._model_entries()
        names = [str(entry.id) for entry in entries]
        if not names:
            raise RoleplayError(f"{self.base_url}: the server lists no models")
        if model is None:
            chosen = entries[0]
        else:
            matches = [entry for entry in entries if entry.id == model]
            if not matches:
                raise RoleplayError(
                    f"{self.base_url}: no model {model!r} on this server; "
                    f"it serves: {', '.join(names)}"
                )
            chosen = matches[0]
        self.model = str(chosen.id)
        self.model_id = self.model
        reported = _context_length(chosen)
        self.context_window = int(context_window or reported or DEFAULT_CONTEXT_WINDOW)

    @classmethod
    def connect(
        cls,
        base_url: str,
        *,
        api_key: str | None = None,
        model: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        context_window: int | None = None,
        status: StatusCallback | None = None,
    ) -> OpenAIEngine:
        """Check the URL, read the server's model list and pick ``model`` (None: the first)."""
        say = status or (lambda _: None)
        url = normalize_base_url(base_url)
        say(f"Connecting to {url}...")
        engine = cls(
            url, api_key=api_key, model=model, timeout=timeout, context_window=context_window
        )
        say(f"Using {engine.model} on {url} (context window {engine.context_window}).")
        return engine

    # Models ----------------------------------------------------------------------------

    def _model_entries(self) -> list[Any]:
        try:
            return list(self.client.models.list())
        except _transport_errors() as error:
            reason, _ = describe_error(error, self.timeout)
            raise RoleplayError(f"{self.base_url}/models: {reason}") from None

    def list_models(self) -> list[str]:
        """The names of the models the server serves, in its order."""
        return [str(entry.id) for entry in self._model_entries()]

    # Text and tokens -------------------------------------------------------------------

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        """A plain approximation of the prompt, for token budgeting only.

        The server applies the model's real chat template to ``messages``; this text has
        one ``role: content`` line per message and the assistant's turn opened at the end.
        """
        lines = [f"{message.role}: {message.content}" for message in messages]
        lines.append("assistant:")
        return "\n".join(lines)

    def count_tokens(self, text: str) -> int:
        """An over-estimate: ceil(UTF-8 bytes / 3.2), see ``BYTES_PER_TOKEN``."""
        return math.ceil(len(text.encode("utf-8")) / BYTES_PER_TOKEN)

    # Generation ------------------------------------------------------------------------

    def _request(
        self, messages: Sequence[ChatMessage], settings: GenerationSettings, grammar: str | None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "stream": True,
            "max_tokens": settings.max_new_tokens,
            "temperature": settings.temperature,
            "top_p": settings.top_p,
        }
        if settings.seed is not None:
            request["seed"] = settings.seed
        stops = [stop for stop in settings.stop_strings if stop][:MAX_SERVER_STOP_STRINGS]
        if stops:
            request["stop"] = stops
        extra: dict[str, Any] = {}
        if grammar:
            extra["grammar"] = grammar
        if not self._plain_requests:
            request["stream_options"] = {"include_usage": True}
            greedy = settings.temperature <= 0
            extra["top_k"] = 1 if greedy else settings.top_k
            extra["repeat_penalty"] = settings.repetition_penalty
            extra["repetition_penalty"] = settings.repetition_penalty
            if settings.min_new_tokens > 0:
                extra["min_tokens"] = settings.min_new_tokens
        if extra:
            request["extra_body"] = extra
        return request

    def _create(self, request: dict[str, Any]) -> Any:
        """One chat request; a connection lost before any answer is tried once more.

        No answer came back, so no reply was streamed or can be duplicated: the usual cause
        is a kept-alive connection the server had dropped (llama-cpp-python's server resets
        the connection after a stream it aborted, and the next request on it fails). A
        server that is down fails the second time too. Timeouts are not retried: the server
        may be generating.
        """
        try:
            return self.client.chat.completions.create(**request)
        except _transport_errors() as error:
            if not _connection_dropped(error):
                raise
            return self.client.chat.completions.create(**request)

    def _open(self, request: dict[str, Any]) -> Any:
        """Send the request; a 400/422 caused by the optional fields is retried without."""
        openai = import_openai()
        try:
            return self._create(request)
        except (openai.BadRequestError, openai.UnprocessableEntityError) as error:
            if self._plain_requests or "stream_options" not in request:
                raise self._backend_error(error) from None
            plain = {key: value for key, value in request.items() if key != "stream_options"}
            extra = {
                key: value
                for key, value in dict(request.get("extra_body") or {}).items()
                if key not in _EXTRA_FIELDS
            }
            plain.pop("extra_body", None)
            if extra:
                plain["extra_body"] = extra
            try:
                response = self._create(plain)
            except _transport_errors() as second:
                raise self._backend_error(second) from None
            self._plain_requests = True
            return response
        except _transport_errors() as error:
            raise self._backend_error(error) from None

    def _backend_error(self, error: BaseException) -> BackendError:
        reason, exit_code = describe_error(error, self.timeout)
        return BackendError(f"{self.base_url}: {reason}", exit_code=exit_code)

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
        """Stream the reply to ``messages`` (None: ``prompt`` as one user message).

        ``logits_processors`` cannot run on a server and are ignored (the capabilities say
        so). Token ids are not reported by chat servers: events carry text only.
        """
        stats = stats if stats is not None else GenerationStats()
        conversation = list(messages) if messages is not None else [ChatMessage("user", prompt)]
        return self._stream(conversation, settings, grammar, cancel, stats)

    def _stream(
        self,
        messages: Sequence[ChatMessage],
        settings: GenerationSettings,
        grammar: str | None,
        cancel: threading.Event | None,
        stats: GenerationStats,
    ) -> Iterator[TokenEvent]:
        started = time.perf_counter()
        stats.new_tokens = 0
        stats.prompt_tokens = self.count_tokens(self.render_chat(messages))
        stats.stop_reason = "length"
        if cancel is not None and cancel.is_set():
            stats.stop_reason = "cancelled"
            return
        response = self._open(self._request(messages, settings, grammar))
        scanner = StopStringScanner(settings.stop_strings)
        chunks = 0
        finish: str | None = None
        server_stop: object = None
        usage_tokens: int | None = None
        reopened = False
        try:
            iterator = iter(response)
            while True:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    break
                except _transport_errors() as error:
                    if chunks == 0 and not reopened and _connection_dropped(error):
                        # Nothing of the reply was shown, so asking again duplicates nothing
                        # the user sees. The usual cause: llama-cpp-python's server lets the
                        # client reuse the kept-alive connection of a stream it aborted (the
                        # client read a clean end), then resets it under the next request.
                        reopened = True
                        response.close()
                        # Built again: the first request may have taught us plain ones.
                        response = self._open(self._request(messages, settings, grammar))
                        iterator = iter(response)
                        finish, server_stop, usage_tokens = None, None, None
                        continue
                    raise self._backend_error(error) from None
                except ValueError as error:  # not JSON, or not a chunk
                    raise BackendError(
                        f"{self.base_url}: the server sent an unreadable stream "
                        f"({_first_line(str(error), 120)})",
                        exit_code=1,
                    ) from None
                # Servers omit fields OpenAI always sends: read every one defensively.
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    if getattr(usage, "completion_tokens", None) is not None:
                        usage_tokens = int(usage.completion_tokens)
                    if getattr(usage, "prompt_tokens", None):
                        stats.prompt_tokens = int(usage.prompt_tokens)
                for choice in getattr(chunk, "choices", None) or ():
                    if (getattr(choice, "index", 0) or 0) != 0:
                        continue
                    delta = getattr(choice, "delta", None)
                    text = getattr(delta, "content", None) if delta is not None else None
                    if text:
                        chunks += 1
                        if chunks == 1:
                            stats.ttft = time.perf_counter() - started
                        piece = scanner.feed(text)
                        if piece:
                            yield TokenEvent(text=piece)
                        if scanner.stopped:
                            stats.new_tokens = chunks
                            stats.stop_reason = "stop_string"
                            return  # closing the stream tells the server to stop
                    reason = getattr(choice, "finish_reason", None)
                    if reason:
                        finish = str(reason)
                        extra = getattr(choice, "model_extra", None) or {}
                        server_stop = extra.get("stop_reason")  # vLLM: the matched stop
                if cancel is not None and cancel.is_set():
                    stats.new_tokens = chunks
                    stats.stop_reason = "cancelled"
                    return
            if finish is None:
                raise BackendError(
                    f"{self.base_url}: the stream ended before the reply finished "
                    f"(after {chunks} tokens; the server stopped or interrupted it)",
                    exit_code=1,
                )
            tail = scanner.flush()
            if tail:
                yield TokenEvent(text=tail)
            stats.new_tokens = usage_tokens if usage_tokens is not None else chunks
            if finish == "length":
                stats.stop_reason = "length"
            elif finish == "stop" and isinstance(server_stop, str):
                stats.stop_reason = "stop_string"
            else:
                stats.stop_reason = "eos"
        finally:
            response.close()
            stats.seconds = time.perf_counter() - started
            if stats.new_tokens == 0:
                stats.new_tokens = chunks

    # Log-probabilities -----------------------------------------------------------------

    def next_token_alternatives(
        self, messages: Sequence[ChatMessage], count: int = MAX_TOP_LOGPROBS
    ) -> dict[str, float]:
        """The first token of the reply to ``messages``: the ``count`` most likely texts and
        their log-probabilities, as the server reports them (``top_logprobs``).

        One non-streamed request for one greedy token. A text reported twice (two token ids
        that decode alike) keeps the larger value. A server that reports no
        log-probabilities raises ``BackendError`` naming it: not every server implements
        ``logprobs`` (llama.cpp's, llama-cpp-python's, vLLM's and OpenAI's do).
        """
        request: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in messages],
            "max_tokens": 1,
            "temperature": 0.0,
            "seed": 0,
            "logprobs": True,
            "top_logprobs": max(1, min(int(count), MAX_TOP_LOGPROBS)),
        }
        response = self._open(request)
        try:
            entries = list(response.choices[0].logprobs.content[0].top_logprobs or [])
        except (AttributeError, IndexError, TypeError):
            entries = []
        if not entries:
            raise BackendError(
                f"{self.base_url}: the server reported no log-probabilities for its reply "
                "(top_logprobs); the interview needs a server that does (llama.cpp, vLLM)"
            )
        alternatives: dict[str, float] = {}
        for entry in entries:
            token, logprob = str(entry.token), float(entry.logprob)
            alternatives[token] = max(logprob, alternatives.get(token, logprob))
        return alternatives

    # Parallel requests -----------------------------------------------------------------

    def complete(self, messages: Sequence[ChatMessage], settings: GenerationSettings) -> str:
        """The whole reply to ``messages`` (raises ``BackendError`` when it failed)."""
        return "".join(
            event.text
            for event in self.stream(self.render_chat(messages), settings, messages=messages)
        )

    def complete_many(
        self,
        prompts_messages: Sequence[Sequence[ChatMessage]],
        settings: GenerationSettings,
        *,
        concurrency: int | None = None,
    ) -> list[str]:
        """Replies to many conversations, ``concurrency`` requests at a time, in input order.

        The first failure is raised (the requests still running are cancelled); no partial
        list is returned. A server that runs one request at a time queues the others
        (llama-cpp-python's server interrupts a running stream when another request arrives
        unless started with ``--interrupt_requests False``: that shows up as a failure).
        """
        conversations = [list(messages) for messages in prompts_messages]
        if not conversations:
            return []
        workers = min(max(1, concurrency or self.concurrency), len(conversations))
        abort = threading.Event()

        def reply(messages: list[ChatMessage]) -> str:
            events = self.stream(
                self.render_chat(messages), settings, messages=messages, cancel=abort
            )
            return "".join(event.text for event in events)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="openai") as pool:
            futures = [pool.submit(reply, messages) for messages in conversations]
            try:
                return [future.result() for future in futures]
            except BaseException:
                abort.set()
                for future in futures:
                    future.cancel()
                raise
