"""The FastAPI app: OpenAI's ``/v1/models`` and ``/v1/chat/completions`` over the pipeline.

The event loop only parses, checks and relays; everything that touches the pipeline runs on
the model's worker thread (``queue.ModelWorker``), which hands the reply to the loop piece by
piece through an ``asyncio.Queue``. A streamed reply is Server-Sent Events in OpenAI's chunk
format ending with ``data: [DONE]``; a client that disconnects sets the turn's cancel event,
which the engine checks between tokens, and nothing of that reply is stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from sse_starlette.sse import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from roleplay.pipeline import ChatPipeline
from roleplay.serve.catalog import Character, CharacterCatalog
from roleplay.serve.coalescing import CoalescingSink
from roleplay.serve.errors import SERVER_ERROR, ApiError, install_error_handlers
from roleplay.serve.middleware import ApiKeyMiddleware, BodyLimitMiddleware
from roleplay.serve.queue import ModelWorker, QueueFull
from roleplay.serve.schemas import (
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    Choice,
    ChunkChoice,
    Delta,
    ModelEntry,
    ModelList,
    ResponseMessage,
    TurnInfo,
    Usage,
    chunk_json,
)
from roleplay.serve.sessions import SESSION_HEADER
from roleplay.serve.turns import (
    Failed,
    Finished,
    Sink,
    Started,
    TurnEvent,
    TurnPlan,
    TurnRunner,
    plan_turn,
)
from roleplay.sessions import SessionStore

PipelineSource = ChatPipeline | Callable[[], ChatPipeline]
DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024  # a few thousand messages of history
DEFAULT_QUEUE_LIMIT = 8
DEFAULT_STREAM_INTERVAL_S = 0.05  # see coalescing.py; short enough that nobody reads slower
SSE_PING_S = 15


def _open_pipeline(source: PipelineSource) -> ChatPipeline:
    """The pipeline the worker thread uses, with a store connection of its own.

    SQLite connections belong to the thread that opened them, so a pipeline built elsewhere
    is copied (shallowly: engine, memory and controller factories are shared) with its store
    opened again here; the caller's pipeline is left as it was.
    """
    if isinstance(source, ChatPipeline):
        served = copy.copy(source)
        served.store = SessionStore(source.store.path)
        return served
    return source()


class ServeService:
    """The app's state: the catalog, the model's worker and, once started, the turn runner."""

    def __init__(
        self,
        source: PipelineSource,
        *,
        queue_limit: int,
        stream_interval_s: float = DEFAULT_STREAM_INTERVAL_S,
    ) -> None:
        self.catalog = CharacterCatalog()
        self.worker = ModelWorker(queue_limit)
        self.stream_interval_s = stream_interval_s
        self._source = source
        self._runner: TurnRunner | None = None
        self._lock = threading.Lock()
        self._cancels: set[threading.Event] = set()  # of the turns queued or running

    def start(self) -> None:
        """Build the pipeline on the worker thread (blocking; later calls do nothing).

        ``roleplay serve`` calls this before the server listens, so a model that cannot load
        is reported as one line instead of a failed start-up inside uvicorn.
        """
        with self._lock:
            if self._runner is None:
                pipeline = self.worker.call(lambda: _open_pipeline(self._source))
                self._runner = TurnRunner(pipeline, self.catalog)
                self.catalog.refresh()

    @property
    def pipeline(self) -> ChatPipeline:
        return self._require_runner().pipeline

    def submit(self, plan: TurnPlan, sink: Sink, cancel: threading.Event) -> Future[None]:
        runner = self._require_runner()
        future = self.worker.submit(lambda: runner.run(plan, sink, cancel))
        with self._lock:
            self._cancels.add(cancel)
        future.add_done_callback(lambda _: self._forget(cancel))
        return future

    def close(self) -> None:
        """Stop every turn (the process cannot exit while the worker generates)."""
        with self._lock:
            for cancel in self._cancels:
                cancel.set()
        self.worker.shutdown()

    def _forget(self, cancel: threading.Event) -> None:
        with self._lock:
            self._cancels.discard(cancel)

    def _require_runner(self) -> TurnRunner:
        if self._runner is None:
            raise ApiError(503, "the model is still loading", type=SERVER_ERROR, code="loading")
        return self._runner


def create_app(
    source: PipelineSource,
    *,
    api_key: str | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    queue_limit: int = DEFAULT_QUEUE_LIMIT,
    allowed_hosts: Sequence[str] | None = None,
    stream_interval_s: float = DEFAULT_STREAM_INTERVAL_S,
) -> FastAPI:
    """The server for ``source`` (a pipeline, or a function building one on the worker).

    ``api_key``: required as ``Authorization: Bearer KEY`` when set. ``max_body_bytes``:
    larger request bodies get 413. ``queue_limit``: requests that may wait behind the one
    being answered; more get 503 with Retry-After. ``allowed_hosts``: Host header values to
    accept (``roleplay serve`` limits a loopback server to loopback names, so that a web page
    cannot reach it through DNS rebinding). ``stream_interval_s``: a streamed reply's pieces
    after the first are handed to the client at most this often, several at a time (0: each
    as it comes; see ``coalescing.py``).
    """
    if stream_interval_s < 0:
        raise ValueError("stream_interval_s cannot be negative")
    service = ServeService(source, queue_limit=queue_limit, stream_interval_s=stream_interval_s)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            service.close()

    app = FastAPI(
        title="roleplay",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.service = service
    install_error_handlers(app)
    _add_routes(app, service)
    # Added last = runs first: host check, then the key, then the body's size.
    app.add_middleware(BodyLimitMiddleware, limit=max_body_bytes)
    app.add_middleware(ApiKeyMiddleware, api_key=api_key)
    if allowed_hosts is not None:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts))
    return app


def _model_entry(character: Character) -> ModelEntry:
    return ModelEntry(id=character.id, created=character.created, name=character.name)


def _add_routes(app: FastAPI, service: ServeService) -> None:
    catalog = service.catalog

    @app.get("/v1/models")
    async def list_models() -> ModelList:
        characters = await run_in_threadpool(catalog.refresh, force=False)
        return ModelList(data=[_model_entry(c) for c in characters])

    @app.get("/v1/models/{model_id}")
    async def get_model(model_id: str) -> ModelEntry:
        return _model_entry(await _character(catalog, model_id))

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(
        body: ChatCompletionRequest, request: Request
    ) -> Response | ChatCompletion:
        character = await _character(catalog, body.model)
        plan = plan_turn(body, character, request.headers)
        return await _answer(service, plan, body, request)


async def _character(catalog: CharacterCatalog, model: str) -> Character:
    character = await run_in_threadpool(catalog.lookup, model)
    if character is None:
        close = catalog.suggestion(model)
        hint = f" (did you mean {close!r}?)" if close else ""
        raise ApiError(
            404,
            f"unknown character {model!r}{hint}; GET /v1/models lists them",
            code="model_not_found",
            param="model",
        )
    return character


async def _answer(
    service: ServeService, plan: TurnPlan, body: ChatCompletionRequest, request: Request
) -> Response | ChatCompletion:
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[TurnEvent] = asyncio.Queue()
    cancel = threading.Event()

    def put_all(batch: list[TurnEvent]) -> None:
        for event in batch:
            events.put_nowait(event)

    def deliver(batch: list[TurnEvent]) -> None:
        # A closed loop means the server is stopping and nobody listens.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(put_all, batch)

    sink = CoalescingSink(deliver, service.stream_interval_s)
    try:
        future = service.submit(plan, sink, cancel)
    except QueueFull as full:
        raise ApiError(
            503,
            f"the model is busy ({full.waiting} requests waiting); retry later",
            type=SERVER_ERROR,
            code="queue_full",
            headers={"Retry-After": str(full.retry_after)},
        ) from full
    relay = _Relay(events, asyncio.wrap_future(future), future, cancel)
    first = await relay.next_or_disconnect(request)
    if first is None:
        return Response(status_code=499)  # nobody is there to read it
    if isinstance(first, Failed):
        raise first.error
    if not isinstance(first, Started):
        raise ApiError(500, "the reply started without a session", type=SERVER_ERROR)
    head = _ChunkHead(plan.character.id)
    headers = {SESSION_HEADER: first.session_id}
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        async def on_close(_: Any) -> None:
            cancel.set()

        return EventSourceResponse(
            _sse(relay, head, include_usage),
            headers=headers,
            sep="\n",
            ping=SSE_PING_S,
            client_close_handler_callable=on_close,
        )
    final = await relay.until_finished(request)
    if final is None:
        return Response(status_code=499)
    if isinstance(final, Failed):
        raise final.error
    completion = ChatCompletion(
        id=head.id,
        created=head.created,
        model=head.model,
        choices=[
            Choice(
                message=ResponseMessage(content=final.text),
                finish_reason=final.finish_reason,
            )
        ],
        usage=_usage(final),
        roleplay=TurnInfo(session=final.session_id, message_id=final.message_id),
    )
    return Response(completion.model_dump_json(), media_type="application/json", headers=headers)


def _usage(final: Finished) -> Usage:
    return Usage(
        prompt_tokens=final.prompt_tokens,
        completion_tokens=final.completion_tokens,
        total_tokens=final.prompt_tokens + final.completion_tokens,
    )


class _ChunkHead:
    """The fields every chunk of one completion shares.

    Content chunks (one per batch of tokens, one per token at interval 0) are the hot path:
    they are the model-built chunk's JSON with the text spliced in, not a model dumped per
    chunk (measured in benchmarks/serve_speed.py; every CPU cycle here is taken from the
    decoding threads).
    """

    def __init__(self, model: str) -> None:
        self.id = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self.created = int(time.time())
        self.model = model
        marker = r"\u0000"  # how json writes a NUL; no NUL occurs in the rest of a chunk
        template = self.chunk([ChunkChoice(delta=Delta(content="\0"))])["data"]
        self._before, self._after = template.split(f'"{marker}"')

    def content(self, piece: str) -> dict[str, str]:
        return {"data": self._before + json.dumps(piece, ensure_ascii=False) + self._after}

    def chunk(self, choices: list[ChunkChoice], usage: Usage | None = None) -> dict[str, str]:
        return {
            "data": chunk_json(
                ChatCompletionChunk(
                    id=self.id,
                    created=self.created,
                    model=self.model,
                    choices=choices,
                    usage=usage,
                )
            )
        }


class _Relay:
    """The loop's end of one turn: its events, and its job's future as a safety net."""

    def __init__(
        self,
        events: asyncio.Queue[TurnEvent],
        done: asyncio.Future[None],
        job: Future[None],
        cancel: threading.Event,
    ) -> None:
        self.events = events
        self.done = done
        self.job = job
        self.cancel = cancel

    async def next(self) -> TurnEvent:
        """The next event; a job that ended without one becomes a 500."""
        if not self.events.empty():
            return self.events.get_nowait()
        getter = asyncio.ensure_future(self.events.get())
        either: set[asyncio.Future[Any]] = {getter, self.done}
        try:
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()  # a waiting getter left behind would swallow an event
        if getter.done() and not getter.cancelled():
            return getter.result()
        # The job's end is signalled after everything it sent, so this is all there is.
        if not self.events.empty():
            return self.events.get_nowait()
        return Failed(ApiError(500, "the reply ended without a result", type=SERVER_ERROR))

    async def next_or_disconnect(self, request: Request) -> TurnEvent | None:
        """The next event, or None (and the turn cancelled) if the client leaves first."""
        return await self._unless_disconnected(request, self.next())

    async def until_finished(self, request: Request) -> Finished | Failed | None:
        async def collect() -> Finished | Failed:
            while True:
                event = await self.next()
                if isinstance(event, Finished | Failed):
                    return event

        return await self._unless_disconnected(request, collect())

    async def _unless_disconnected(self, request: Request, work: Any) -> Any:
        task: asyncio.Future[Any] = asyncio.ensure_future(work)
        watcher: asyncio.Future[Any] = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:  # the server is shutting down
            task.cancel()
            watcher.cancel()
            self.stop()
            raise
        if task.done():
            watcher.cancel()
            return task.result()
        task.cancel()
        self.stop()
        return None

    def stop(self) -> None:
        """The client is gone: stop generating (or never start)."""
        self.cancel.set()
        self.job.cancel()  # succeeds only while the job still waits in the queue


async def _disconnected(request: Request) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _sse(relay: _Relay, head: _ChunkHead, include_usage: bool) -> AsyncIterator[Any]:
    """The reply as OpenAI chunks; leaving early (a disconnect) cancels the turn."""
    finished = False
    try:
        yield head.chunk([ChunkChoice(delta=Delta(role="assistant", content=""))])
        while True:
            event = await relay.next()
            if isinstance(event, str):
                yield head.content(event)
            elif isinstance(event, Finished):
                yield head.chunk([ChunkChoice(delta=Delta(), finish_reason=event.finish_reason)])
                if include_usage:
                    yield head.chunk([], usage=_usage(event))
                finished = True
                yield {"data": "[DONE]"}
                return
            elif isinstance(event, Failed):
                finished = True
                yield {"data": json.dumps(event.error.body().model_dump(), ensure_ascii=False)}
                return
    finally:
        if not finished:
            relay.stop()
