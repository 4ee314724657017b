"""A llama-cpp-python server on loopback, running the embedded default model, for tests.

It runs through ``llama_server_main.py`` so that it loads the model with the engine's
weight-repacking choice (llama.cpp's AMX kernels crash on some CPUs).

``start_server`` waits until it answers HTTP (or fails the test with its log's tail);
``stop_server`` terminates it (kills it if it will not stop). Extra arguments go last, so they
override the defaults (``--n_ctx 2048`` replaces the 512-token context).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

READY_DEADLINE_S = 30.0


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    log: Path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def model_file() -> Path:
    from roleplay.engine.default_model import default_gguf_path

    return default_gguf_path()


def start_server(log: Path, *extra: str) -> Server:
    import httpx

    port = free_port()
    command = [
        sys.executable,
        str(Path(__file__).with_name("llama_server_main.py")),  # python -m llama_cpp.server
        "--model",
        str(model_file()),
        "--model_alias",
        "tiny",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "512",
        # One thread each: llama.cpp's spinning threads slow down badly when the machine's
        # cores are busy with other work (seen: 16 tokens taking 23 s with 2 threads).
        "--n_threads",
        "1",
        "--n_threads_batch",
        "1",
        *extra,
    ]
    with log.open("wb") as sink:
        environment = {**os.environ, "PYTHONUNBUFFERED": "1"}  # its log is read by tests
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env=environment)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + READY_DEADLINE_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            # Any HTTP answer (401 included) means the server is up.
            httpx.get(f"{url}/models", timeout=1.0)
            return Server(url, process, log)
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_server(process)
    tail = log.read_text(errors="replace")[-1500:]
    pytest.fail(f"llama_cpp.server did not come up within {READY_DEADLINE_S:g} s:\n{tail}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
