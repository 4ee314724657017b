"""The OpenAI-compatible backend against a real server: llama-cpp-python's, on loopback.

The server runs the embedded default model (SmolLM2-135M GGUF) with a 512-token context.
The module's server requires an API key (so a wrong key can be tested) and is started with
``--interrupt_requests False``: by default llama-cpp-python's server ends a running stream
(with ``[DONE]`` and no finish reason) as soon as another request arrives, which parallel
requests would trigger. Tests that kill or interrupt a server start their own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from roleplay.engine.base import (
    BackendError,
    ChatMessage,
    Engine,
    GenerationSettings,
    GenerationStats,
)
from roleplay.errors import RoleplayError
from tests.helpers.llama_server import Server, free_port, start_server, stop_server

# openai and llama-cpp-python[server] are required dependencies: a missing one fails here.
pytestmark = pytest.mark.server

API_KEY = "test-key"
CONVERSATION = [
    ChatMessage("system", "You are Ada, a cheerful pirate captain."),
    ChatMessage("user", "Tell me about your ship."),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    started = start_server(log, "--api_key", API_KEY, "--interrupt_requests", "False")
    yield started
    stop_server(started.process)


@pytest.fixture
def doomed_server(tmp_path: Path) -> Iterator[Server]:
    """A second server, default settings, for a test to kill or interrupt."""
    started = start_server(tmp_path / "doomed.log")
    yield started
    stop_server(started.process)


@pytest.fixture(scope="module")
def engine(server: Server) -> object:
    from roleplay.engine.openai_engine import OpenAIEngine

    return OpenAIEngine.connect(server.url, api_key=API_KEY, context_window=512)


def _reply(
    engine: object, settings: GenerationSettings, **kwargs: object
) -> tuple[str, GenerationStats]:
    stats = GenerationStats()
    messages = kwargs.pop("messages", CONVERSATION)
    events = engine.stream("", settings, messages=messages, stats=stats, **kwargs)  # type: ignore[attr-defined]
    return "".join(event.text for event in events), stats


# Without a server ---------------------------------------------------------------------------


def test_urls_are_checked_and_completed() -> None:
    from roleplay.engine.openai_engine import OpenAIEngine, normalize_base_url

    assert normalize_base_url("http://127.0.0.1:8080") == "http://127.0.0.1:8080/v1"
    assert normalize_base_url("HTTPS://host/v1/") == "https://host/v1"
    assert normalize_base_url("http://host/api/v1") == "http://host/api/v1"
    for bad in ("ftp://host/v1", "127.0.0.1:8080", "", "http://"):
        with pytest.raises(RoleplayError, match="http"):
            OpenAIEngine.connect(bad)


def test_api_key_falls_back_to_environment_then_placeholder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from roleplay.engine.openai_engine import PLACEHOLDER_API_KEY, resolve_api_key

    monkeypatch.delenv("ROLEPLAY_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key(None) == PLACEHOLDER_API_KEY
    monkeypatch.setenv("OPENAI_API_KEY", "from-openai")
    assert resolve_api_key(None) == "from-openai"
    monkeypatch.setenv("ROLEPLAY_API_KEY", "from-roleplay")
    assert resolve_api_key(None) == "from-roleplay"
    assert resolve_api_key("given") == "given"


def test_refused_connection_is_one_line() -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    port = free_port()  # nothing listens there
    with pytest.raises(RoleplayError) as caught:
        OpenAIEngine.connect(f"http://127.0.0.1:{port}/v1", timeout=5)
    message = str(caught.value)
    assert "\n" not in message
    assert f"127.0.0.1:{port}" in message and "refused" in message
    assert caught.value.exit_code == 2


def test_silent_server_times_out() -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # accepts the connection (backlog), never answers
        port = listener.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(RoleplayError, match="timed out") as caught:
            OpenAIEngine.connect(f"http://127.0.0.1:{port}/v1", timeout=0.5)
    assert time.monotonic() - started < 5
    assert "\n" not in str(caught.value)


def test_token_estimate_over_counts() -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    engine = OpenAIEngine.__new__(OpenAIEngine)  # no server needed for text helpers
    text = engine.render_chat(CONVERSATION)
    assert text.splitlines() == [
        "system: You are Ada, a cheerful pirate captain.",
        "user: Tell me about your ship.",
        "assistant:",
    ]
    assert engine.count_tokens("") == 0
    assert engine.count_tokens("abcdefghij") == 4  # ceil(10 / 3.2)
    assert engine.count_tokens("é") == 1


# Against a scripted HTTP server: the answers llama-cpp-python's server does not give -------


class _ScriptedHandler(BaseHTTPRequestHandler):
    """/v1/models and a chat endpoint whose behaviour is chosen by the model name."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: object) -> None:  # keep pytest's output clean
        pass

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        models = [
            {"id": "vllm-model", "object": "model", "max_model_len": 8192},
            {"id": "llama-model", "object": "model", "meta": {"n_ctx_train": 2048}},
            *({"id": name, "object": "model"} for name in ("boom", "bad", "garbage", "event")),
            *({"id": name, "object": "model"} for name in ("drop-first", "drop-late")),
            {"id": "strict", "object": "model"},
        ]
        self._send(200, json.dumps({"object": "list", "data": models}).encode())

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        request = json.loads(self.rfile.read(length))
        type(self).requests.append(request)
        model = request["model"]
        if model == "boom":
            error = {"error": {"message": "CUDA out of memory", "type": "server_error"}}
            return self._send(500, json.dumps(error).encode())
        if model == "bad" or (model == "strict" and "stream_options" in request):
            detail = {"detail": "Extra inputs are not permitted\nsecond line"}
            return self._send(400 if model == "bad" else 422, json.dumps(detail).encode())

        def event(data: object) -> bytes:
            return f"data: {json.dumps(data)}\n\n".encode()

        def chunk(content: str | None, finish: str | None = None, **extra: object) -> bytes:
            choice = {"index": 0, "delta": {"content": content}, "finish_reason": finish}
            return event({"object": "chat.completion.chunk", "choices": [{**choice, **extra}]})

        drops = model == "drop-late" or (
            model == "drop-first" and sum(r["model"] == model for r in type(self).requests) == 1
        )
        if drops:  # headers, then the connection closes: a body promised and not sent
            sent = chunk("Hel") if model == "drop-late" else b""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(sent) + 1000))
            self.end_headers()
            self.wfile.write(sent)
            self.close_connection = True
            return None
        if model == "garbage":
            body = chunk("Hel") + b"data: {not json\n\n"
        elif model == "event":
            body = chunk("Hel") + event({"error": {"message": "engine died"}})
        else:  # vLLM-like: usage after the finish, the matched stop string reported
            body = chunk("Hel") + chunk("lo") + chunk(None, "stop", stop_reason="END")
            if "stream_options" in request:
                usage = {"prompt_tokens": 7, "completion_tokens": 42, "total_tokens": 49}
                body += event({"object": "chat.completion.chunk", "choices": [], "usage": usage})
        self._send(200, body + b"data: [DONE]\n\n", "text/event-stream")


@pytest.fixture(scope="module")
def scripted_url() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _ScriptedHandler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def _scripted(url: str, model: str | None) -> Any:
    from roleplay.engine.openai_engine import OpenAIEngine

    return OpenAIEngine(url, model=model, timeout=5)


def test_context_window_comes_from_the_model_entry(scripted_url: str) -> None:
    assert _scripted(scripted_url, "vllm-model").context_window == 8192
    assert _scripted(scripted_url, "llama-model").context_window == 2048
    assert _scripted(scripted_url, "boom").context_window == 4096
    assert _scripted(scripted_url, None).model == "vllm-model"  # the first one listed


def test_usage_and_server_stop_reason_are_read(scripted_url: str) -> None:
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=50, seed=1, top_k=7, stop_strings=("END",))
    engine = _scripted(scripted_url, "vllm-model")
    text = "".join(e.text for e in engine.stream("", settings, messages=CONVERSATION, stats=stats))
    assert text == "Hello"
    assert (stats.new_tokens, stats.prompt_tokens, stats.stop_reason) == (42, 7, "stop_string")
    sent = _ScriptedHandler.requests[-1]
    assert sent["stream"] is True and sent["max_tokens"] == 50 and sent["seed"] == 1
    assert sent["stop"] == ["END"] and sent["top_k"] == 7 and sent["repeat_penalty"] == 1.1
    assert sent["messages"][0] == {"role": "system", "content": CONVERSATION[0].content}


def test_a_strict_server_gets_plain_requests(scripted_url: str) -> None:
    engine = _scripted(scripted_url, "strict")
    assert engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=5)) == "Hello"
    assert "top_k" not in _ScriptedHandler.requests[-1]
    assert engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=5)) == "Hello"
    assert "stream_options" not in _ScriptedHandler.requests[-1]  # remembered


@pytest.mark.parametrize(
    ("model", "exit_code", "words"),
    [
        ("boom", 1, "server error 500: CUDA out of memory"),
        ("bad", 2, "request refused (400): Extra inputs are not permitted second line"),
        ("garbage", 1, "unreadable stream"),
        ("event", 1, "engine died"),
    ],
)
def test_server_failures_map_to_one_line_errors(
    scripted_url: str, model: str, exit_code: int, words: str
) -> None:
    engine = _scripted(scripted_url, model)
    with pytest.raises(BackendError) as caught:
        engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=5))
    assert caught.value.exit_code == exit_code
    assert words in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(scripted_url)


def test_a_connection_lost_before_the_reply_is_asked_again_once(scripted_url: str) -> None:
    # The server answers the first request's headers and closes the connection before any of
    # the reply (llama-cpp-python's server does this to a request sent on the kept-alive
    # connection of a stream it aborted): nothing was shown, so the engine asks again.
    engine = _scripted(scripted_url, "drop-first")
    assert engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=5)) == "Hello"
    assert sum(r["model"] == "drop-first" for r in _ScriptedHandler.requests) == 2


def test_a_connection_lost_after_part_of_the_reply_is_not_asked_again(scripted_url: str) -> None:
    engine = _scripted(scripted_url, "drop-late")
    before = sum(r["model"] == "drop-late" for r in _ScriptedHandler.requests)
    with pytest.raises(BackendError, match="closed the connection mid-reply") as caught:
        engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=5))
    assert caught.value.exit_code == 1
    # A half-shown reply cannot be resumed, and asking again would generate it twice.
    assert sum(r["model"] == "drop-late" for r in _ScriptedHandler.requests) == before + 1


# Against the server --------------------------------------------------------------------------


def test_models_are_listed_and_chosen(engine: object, server: Server) -> None:
    from roleplay.engine.openai_engine import DEFAULT_CONTEXT_WINDOW, OpenAIEngine

    assert isinstance(engine, Engine)
    assert engine.list_models() == ["tiny"]  # type: ignore[attr-defined]
    assert engine.model_id == "tiny"
    assert engine.context_window == 512  # as given
    caps = engine.capabilities  # type: ignore[attr-defined]
    assert (caps.backend, caps.steering, caps.logits_processors) == ("openai", "prompt", False)
    # llama-cpp-python's server reports no context length: the default applies.
    bare = OpenAIEngine(server.url.removesuffix("/v1"), api_key=API_KEY, model="tiny")
    assert bare.base_url == server.url
    assert bare.context_window == DEFAULT_CONTEXT_WINDOW


def test_unknown_model_lists_the_served_ones(server: Server) -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    with pytest.raises(RoleplayError) as caught:
        OpenAIEngine.connect(server.url, api_key=API_KEY, model="gpt-17")
    message = str(caught.value)
    assert "gpt-17" in message and "tiny" in message and "\n" not in message
    assert caught.value.exit_code == 2


def test_wrong_api_key_is_one_line(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    monkeypatch.delenv("ROLEPLAY_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(RoleplayError, match="401") as caught:
        OpenAIEngine.connect(server.url)  # the placeholder key
    assert "\n" not in str(caught.value)
    monkeypatch.setenv("ROLEPLAY_API_KEY", API_KEY)
    assert OpenAIEngine.connect(server.url).model == "tiny"


def test_seeded_replies_repeat(engine: object) -> None:
    """Same seed, same reply: from the same server state.

    llama-cpp-python's server keeps the last conversation in its KV cache. A reply whose
    prompt is evaluated from scratch and one that reuses the cached prompt compute slightly
    different logits (a different batch shape), and a sampled reply can diverge after a few
    tokens (seen: the 7th token). So the first reply primes the cache and the next two,
    which start from the same cached state, are compared.
    """
    settings = GenerationSettings(max_new_tokens=16, temperature=0.9, seed=11)
    primer, _ = _reply(engine, settings)
    first, stats = _reply(engine, settings)
    second, _ = _reply(engine, settings)
    assert primer.strip() and first.strip()
    assert first == second
    assert 1 <= stats.new_tokens <= 16
    assert stats.stop_reason in ("length", "eos")
    assert 0 < stats.ttft <= stats.seconds
    assert stats.prompt_tokens > 0


def test_max_tokens_is_respected(engine: object) -> None:
    text, stats = _reply(engine, GenerationSettings(max_new_tokens=4, temperature=0.0))
    assert text.strip()
    assert stats.new_tokens <= 4
    assert stats.stop_reason == "length"


def test_stop_strings_on_server_and_client(engine: object) -> None:
    greedy = GenerationSettings(max_new_tokens=24, temperature=0.0, seed=1)
    _reply(engine, greedy)  # primes the server's cache (see test_seeded_replies_repeat)
    full, _ = _reply(engine, greedy)
    words = full.split()
    assert len(words) >= 4, full
    word = next(w for w in words[2:] if full.index(w) > 0)
    expected = full[: full.index(word)]

    # One stop string: the server applies it (finish_reason "stop", reported as "eos").
    server_side = GenerationSettings(
        max_new_tokens=24, temperature=0.0, seed=1, stop_strings=(word,)
    )
    text, stats = _reply(engine, server_side)
    assert text == expected
    assert stats.stop_reason == "eos"

    # The fifth stop string is beyond what is sent to the server: applied client-side.
    unused = ("\x01one", "\x01two", "\x01three", "\x01four")
    client_side = GenerationSettings(
        max_new_tokens=24, temperature=0.0, seed=1, stop_strings=(*unused, word)
    )
    text, stats = _reply(engine, client_side)
    assert text == expected
    assert stats.stop_reason == "stop_string"
    assert stats.new_tokens < 24


def test_a_failed_stream_does_not_break_the_next_request(engine: object) -> None:
    # Over the server's 512-token context: llama-cpp-python's server fails after sending
    # the headers and resets that kept-alive connection. Whether the client reads a stream
    # that ended empty or the reset first depends on timing (a loaded machine saw the
    # reset), so either of the two mid-reply errors is right; what matters is the error, its
    # exit code and that the next request works.
    too_long = [ChatMessage("user", "word " * 1200)]
    mid_reply = "ended before the reply finished|closed the connection mid-reply"
    with pytest.raises(BackendError, match=mid_reply) as caught:
        _reply(engine, GenerationSettings(max_new_tokens=4), messages=too_long)
    assert caught.value.exit_code == 1
    text, stats = _reply(engine, GenerationSettings(max_new_tokens=4, temperature=0.0))
    assert text.strip() and stats.stop_reason == "length"


def test_prompt_alone_becomes_a_user_message(engine: object) -> None:
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0)
    events = engine.stream("Say hello.", settings, stats=stats)  # type: ignore[attr-defined]
    assert "".join(event.text for event in events).strip()
    assert stats.new_tokens <= 4


def test_grammar_constrains_the_reply(engine: object) -> None:
    assert engine.capabilities.grammar == "gbnf"  # type: ignore[attr-defined]
    text, _ = _reply(
        engine,
        GenerationSettings(max_new_tokens=8, temperature=0.9, seed=5),
        grammar='root ::= "aye" | "nay"',
    )
    assert text in ("aye", "nay")


def test_cancel_stops_the_stream_and_the_server(engine: object, server: Server) -> None:
    cancel = threading.Event()
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=200, temperature=0.9, seed=2, min_new_tokens=150)
    before = server.log.read_text(errors="replace").count("Disconnected from client")
    pieces = []
    for event in engine.stream(  # type: ignore[attr-defined]
        "", settings, messages=CONVERSATION, cancel=cancel, stats=stats
    ):
        pieces.append(event.text)
        if len(pieces) == 3:
            cancel.set()
    assert len(pieces) == 3
    assert stats.stop_reason == "cancelled"
    assert stats.new_tokens < 10
    # The stream was closed: the server noticed and stopped generating (it logs this).
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        log = server.log.read_text(errors="replace")
        if log.count("Disconnected from client") > before:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the server did not notice the closed stream")
    # A cancel set before the request sends nothing.
    text, stats = _reply(engine, settings, cancel=cancel)
    assert text == "" and stats.stop_reason == "cancelled"


def test_complete_many_keeps_input_order(engine: object) -> None:
    prompts = [
        [ChatMessage("user", question)]
        for question in (
            "What is the capital of France?",
            "Name a colour.",
            "Who wrote Hamlet?",
            "What do cats eat?",
        )
    ]
    settings = GenerationSettings(max_new_tokens=8, temperature=0.0, seed=3)
    replies = engine.complete_many(prompts, settings, concurrency=4)  # type: ignore[attr-defined]
    assert len(replies) == 4 and all(reply.strip() for reply in replies)
    one_by_one = [engine.complete(prompt, settings) for prompt in prompts]  # type: ignore[attr-defined]
    assert replies == one_by_one
    assert engine.complete_many([], settings) == []  # type: ignore[attr-defined]


def test_server_killed_mid_stream_is_a_failure(doomed_server: Server) -> None:
    from roleplay.engine.openai_engine import OpenAIEngine

    engine = OpenAIEngine.connect(doomed_server.url, context_window=512)
    pieces: list[str] = []
    finished = False
    settings = GenerationSettings(max_new_tokens=400, temperature=0.9, seed=4, min_new_tokens=350)
    with pytest.raises(BackendError) as caught:
        for event in engine.stream("", settings, messages=CONVERSATION):
            pieces.append(event.text)
            if len(pieces) == 1:
                os.kill(doomed_server.process.pid, signal.SIGKILL)
        finished = True
    assert not finished and pieces  # the partial reply never ended as a finished one
    assert caught.value.exit_code == 1
    assert doomed_server.url in str(caught.value) and "\n" not in str(caught.value)
    doomed_server.process.wait(timeout=5)
    # With the server gone, a new reply fails the same way (connection refused).
    with pytest.raises(BackendError, match="refused") as again:
        engine.complete(CONVERSATION, GenerationSettings(max_new_tokens=4))
    assert again.value.exit_code == 1


def test_interrupted_stream_is_not_a_short_reply(doomed_server: Server) -> None:
    """llama-cpp-python's default server ends a stream when another request arrives."""
    from roleplay.engine.openai_engine import OpenAIEngine

    engine = OpenAIEngine.connect(doomed_server.url, context_window=512)
    prompts = [CONVERSATION] * 3
    settings = GenerationSettings(max_new_tokens=40, temperature=0.9, min_new_tokens=30)
    with pytest.raises(BackendError, match="ended before the reply finished") as caught:
        engine.complete_many(prompts, settings, concurrency=3)
    assert caught.value.exit_code == 1
