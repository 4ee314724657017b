"""`roleplay serve`: characters as models behind an OpenAI-compatible endpoint (docs/serve.md).

Loopback only unless a key is set: a server on the network without a key would let anyone
there spend the machine's time and write into its sessions and memories, so a non-loopback
``--host`` without ``--api-key`` (or ``$ROLEPLAY_API_KEY``) is refused before anything loads.
"""

from __future__ import annotations

import ipaddress

import typer
from rich.console import Console
from rich.markup import escape

from roleplay.cli.options import (
    BackendOption,
    BaseUrlOption,
    ChromaUrlOption,
    ContextWindowOption,
    LorebookOption,
    MemoryOption,
    ModelOption,
    NoSteerOption,
    SteerOption,
    ThreadsOption,
    backend_options,
    feature_options,
    lorebook_names,
)
from roleplay.engine.base import DEFAULT_GENERATION
from roleplay.errors import RoleplayError
from roleplay.settings import get_settings, reveal

SERVE_KEY_VARIABLE = "ROLEPLAY_API_KEY"
LOOPBACK_NAMES = ("localhost",)
console = Console(stderr=True, highlight=False)


def is_loopback(host: str) -> bool:
    if host.strip().lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # any other name may resolve to a reachable address


def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8808, "--port", min=1, max=65535),
    api_key: str | None = typer.Option(
        None,
        "--api-key",
        help="Clients must send it as 'Authorization: Bearer KEY' (default: $ROLEPLAY_API_KEY; "
        "required for a non-loopback --host).",
    ),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    backend_api_key: str | None = typer.Option(
        None,
        "--backend-api-key",
        help="With --backend openai: the upstream server's key (default: $OPENAI_API_KEY).",
    ),
    threads: int | None = ThreadsOption,
    context_window: int | None = ContextWindowOption,
    lorebook: list[str] | None = LorebookOption,
    max_new_tokens: int = typer.Option(
        DEFAULT_GENERATION.max_new_tokens,
        "--max-new-tokens",
        min=1,
        max=4096,
        help="Reply length when a request sets none.",
    ),
    temperature: float = typer.Option(
        DEFAULT_GENERATION.temperature,
        "--temperature",
        min=0.0,
        max=2.0,
        help="Temperature when a request sets none.",
    ),
    memory: bool = MemoryOption,
    chroma_url: str | None = ChromaUrlOption,
    steer: str | None = SteerOption,
    no_steer: bool = NoSteerOption,
    queue_limit: int = typer.Option(
        8, "--queue-limit", min=0, help="Requests that may wait for the model; more get 503."
    ),
    max_body_bytes: int = typer.Option(
        4 * 1024 * 1024, "--max-body-bytes", min=1024, help="Larger request bodies get 413."
    ),
    stream_interval_ms: int = typer.Option(
        50,
        "--stream-interval-ms",
        min=0,
        max=1000,
        help="Send a streamed reply's tokens at most this often, several at a time, so the "
        "decoding threads are interrupted less (0: every token as it comes). The first token "
        "and the last are never held back.",
    ),
) -> None:
    """Serve the characters as models of an OpenAI-compatible API. For SillyTavern, the
    openai package and other clients."""
    key = api_key or reveal(get_settings().api_key)
    loopback = is_loopback(host)
    if not loopback and not key:
        raise RoleplayError(
            f"--host {host} is reachable from other machines; set --api-key "
            f"(or ${SERVE_KEY_VARIABLE}) or serve on 127.0.0.1"
        )
    # The served key must never travel upstream: the openai backend gets its own.
    upstream_key = backend_api_key or reveal(get_settings().openai_api_key) or "not-needed"
    options_backend = backend_options(
        backend, model, base_url, upstream_key if base_url else None, threads, context_window
    )
    features = feature_options(memory, chroma_url, steer, no_steer)
    lorebooks = lorebook_names(lorebook)

    import uvicorn

    from roleplay.application import RuntimeOptions, build_pipeline
    from roleplay.cli.runtime import load_cli_engine
    from roleplay.serve.app import create_app

    options = RuntimeOptions(
        backend=options_backend,
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        features=features,
        lorebooks=lorebooks,
    )
    engine = load_cli_engine(options_backend)
    app = create_app(
        lambda: build_pipeline(options, engine=engine),
        api_key=key,
        max_body_bytes=max_body_bytes,
        queue_limit=queue_limit,
        stream_interval_s=stream_interval_ms / 1000,
        allowed_hosts=[host, "127.0.0.1", "localhost", "*.localhost"] if loopback else None,
    )
    service = app.state.service
    service.start()  # loads memory and steering now, so failures are one line, not a traceback
    characters = service.catalog.characters()
    shown_host = f"[{host}]" if ":" in host else host
    console.print(
        f"Serving {len(characters)} characters on {engine.model_id} at "
        f"[bold]http://{escape(shown_host)}:{port}/v1[/] "
        f"({'API key required' if key else 'no API key'}; Ctrl+C stops)"
    )
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
