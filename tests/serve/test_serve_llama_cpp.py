"""End to end on a real model: the tiny random-weight GGUF on llama.cpp, steered by control
vectors, through the openai client; and `roleplay serve` itself as a process."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam

from roleplay.application import RuntimeOptions, build_pipeline
from roleplay.engine.llama_cpp_engine import LlamaCppEngine
from roleplay.features import FeatureOptions
from tests.serve.conftest import ServeFactory

MESSAGES: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "Captain, the engines are failing."}
]


def test_the_tiny_gguf_through_the_openai_client(serve: ServeFactory, tiny_gguf: Path) -> None:
    engine = LlamaCppEngine.load(str(tiny_gguf), context_window=4096, threads=1)
    options = RuntimeOptions(features=FeatureOptions(memory=False, toxicity=False))
    served = serve(engine, pipeline=lambda e: build_pipeline(options, engine=e))
    client = served.client()
    whole = client.chat.completions.create(
        model="mira",
        messages=MESSAGES,
        max_tokens=12,
        temperature=0,
        seed=3,
        user="a",
    )
    assert whole.usage is not None and 0 < whole.usage.completion_tokens <= 12
    assert whole.usage.prompt_tokens > 100  # Mira's card, rendered with the GGUF's template
    stream = client.chat.completions.create(
        model="mira",
        messages=MESSAGES,
        max_tokens=12,
        temperature=0,
        seed=3,
        user="b",
        stream=True,
    )
    streamed = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert streamed.strip() == (whole.choices[0].message.content or "").strip()
    store = served.store()
    sessions = store.list_sessions()
    assert len(sessions) == 2 and {s.model_id for s in sessions} == {engine.model_id}
    reply = store.branch(sessions[0].id)[-1]
    assert reply.role == "assistant"
    assert reply.metadata["controls"]["steering"]["method"] == "control_vectors"


def test_a_network_host_without_a_key_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from typer.testing import CliRunner

    from roleplay.cli.main import app

    monkeypatch.delenv("ROLEPLAY_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: --host 0.0.0.0")


@pytest.mark.slow
def test_roleplay_serve_as_a_process(tiny_gguf: Path, isolated_home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [
        sys.executable,
        "-m",
        "roleplay",
        "serve",
        "--model",
        str(tiny_gguf),
        "--threads",
        "1",
        "--no-memory",
        "--port",
        str(port),
        "--api-key",
        "k",
    ]
    process = subprocess.Popen(
        command,
        env={**os.environ, "ROLEPLAY_HOME": str(isolated_home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        client = openai.OpenAI(
            base_url=f"http://127.0.0.1:{port}/v1", api_key="k", max_retries=0, timeout=60
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                ids = [model.id for model in client.models.list().data]
                break
            except (openai.APIConnectionError, httpx.HTTPError):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(process.communicate()[0]) from None
                time.sleep(0.2)
        assert "mira" in ids
        reply = client.chat.completions.create(
            model="mira",
            messages=MESSAGES,
            max_tokens=6,
        )
        assert reply.usage is not None and reply.usage.completion_tokens <= 6
        # A Host header that is not a loopback name is refused (DNS rebinding).
        rebound = httpx.get(
            f"http://127.0.0.1:{port}/v1/models",
            headers={"Host": "evil.example", "Authorization": "Bearer k"},
        )
        assert rebound.status_code == 400
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert "Serving" in output and f"http://127.0.0.1:{port}/v1" in output
