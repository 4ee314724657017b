"""A real uvicorn server on a free loopback port, in a thread, around ``create_app``.

TestClient would hide what matters here: SSE framing over a socket, a client that closes
its connection mid-stream, and several clients at once.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import openai
import pytest
import uvicorn
from fastapi import FastAPI

from roleplay.engine.base import GenerationSettings, TokenEvent
from roleplay.paths import sessions_db_path
from roleplay.pipeline import ChatPipeline
from roleplay.serve.app import create_app
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine


class ObservedEngine(ScriptedEngine):
    """The scripted engine, watched: words yielded, replies at once, and an optional gate
    that holds every reply before its first word until the test opens it."""

    def __init__(self, replies: Sequence[str], *, delay: float = 0.0, gated: bool = False):
        super().__init__(replies, delay=delay)
        self.gate = threading.Event()
        if not gated:
            self.gate.set()
        self.yielded = 0
        self.active = 0
        self.most_active = 0
        self.settings: list[GenerationSettings] = []
        self._guard = threading.Lock()

    def stream(  # type: ignore[override]
        self, prompt: str, settings: GenerationSettings, **kwargs: Any
    ) -> Iterator[TokenEvent]:
        self.settings.append(settings)
        with self._guard:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            self.gate.wait(timeout=30)
            for event in super().stream(prompt, settings, **kwargs):
                self.yielded += 1
                yield event
        finally:
            with self._guard:
                self.active -= 1


class ServerThread:
    def __init__(self, app: FastAPI) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.bind(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.socket.close()


@dataclass
class Served:
    url: str
    app: FastAPI
    engine: Any
    api_key: str | None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def client(self, **kwargs: Any) -> openai.OpenAI:
        return openai.OpenAI(
            base_url=self.base_url,
            api_key=kwargs.pop("api_key", self.api_key or "unused"),
            max_retries=0,
            timeout=30,
            **kwargs,
        )

    def http(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def store(self) -> SessionStore:
        return SessionStore(sessions_db_path())

    @property
    def worker(self) -> Any:
        return self.app.state.service.worker

    def wait_idle(self, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while self.worker.pending:
            if time.monotonic() > deadline:
                raise AssertionError("the model's worker did not go idle")
            time.sleep(0.01)


ServeFactory = Callable[..., Served]


@pytest.fixture
def serve() -> Iterator[ServeFactory]:
    """Start a server: ``serve(replies=[...], api_key=..., queue_limit=..., ...)``."""
    servers: list[ServerThread] = []

    def start(
        engine: Any = None,
        *,
        replies: Sequence[str] = ("Hello there, traveller.",),
        delay: float = 0.0,
        gated: bool = False,
        api_key: str | None = None,
        queue_limit: int = 8,
        max_body_bytes: int = 1024 * 1024,
        pipeline: Callable[[Any], ChatPipeline] | None = None,
    ) -> Served:
        chosen = engine if engine is not None else ObservedEngine(replies, delay=delay, gated=gated)
        build = pipeline or (lambda e: ChatPipeline(e, SessionStore(sessions_db_path())))
        app = create_app(
            lambda: build(chosen),
            api_key=api_key,
            max_body_bytes=max_body_bytes,
            queue_limit=queue_limit,
        )
        server = ServerThread(app)
        server.start()
        servers.append(server)
        return Served(f"http://127.0.0.1:{server.port}", app, chosen, api_key)

    yield start
    for server in servers:
        server.stop()
