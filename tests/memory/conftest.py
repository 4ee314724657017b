"""Fixtures for the memory tests: isolated stores, a Chroma server, cards on disk.

The MiniLM model loads once per test process (``get_encoder`` is cached), and the Chroma
server is started once per session; everything else is per test.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from roleplay.cards.model import BigFive, Card, Personality, SeedMemory
from roleplay.memory.chroma_client import forget_clients

CHROMA_BIN = Path(sys.executable).with_name("chroma")
SERVER_START_TIMEOUT_S = 60.0
HOST_ARGS = ("--host", "127.0.0.1")


@pytest.fixture(autouse=True)
def memory_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("ROLEPLAY_HOME", str(home))
    forget_clients()
    yield home
    forget_clients()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_heartbeat(url: str, process: subprocess.Popen[bytes]) -> None:
    import httpx

    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chroma run exited with status {process.returncode}")
        try:
            if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no heartbeat from the chroma server at {url}")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A ``chroma run`` server on a free 127.0.0.1 port, for the whole session."""
    if not CHROMA_BIN.exists():
        pytest.skip(f"{CHROMA_BIN} not found")
    data = tmp_path_factory.mktemp("chroma-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (data / "server.log").open("wb")
    process = subprocess.Popen(
        [str(CHROMA_BIN), "run", "--path", str(data / "db"), *HOST_ARGS, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_heartbeat(url, process)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(params=["local", pytest.param("server", marks=pytest.mark.server)])
def chroma_url(request: pytest.FixtureRequest) -> str | None:
    """None (the local store under ROLEPLAY_HOME) or the URL of the test Chroma server."""
    if request.param == "local":
        return None
    url: str = request.getfixturevalue("chroma_server")
    return url


@pytest.fixture
def character_name() -> str:
    """A fresh name per test: the server outlives tests, so names must not repeat."""
    return f"Tëst Çharacter {uuid.uuid4().hex[:8]}"


def make_card(
    name: str,
    memories: list[tuple[str, dict[str, float]]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Card:
    return Card(
        name=name,
        description="A character for memory tests.",
        personality=Personality(
            big_five=BigFive(
                openness=0.5,
                conscientiousness=0.5,
                extraversion=0.5,
                agreeableness=0.5,
                neuroticism=0.5,
            )
        ),
        memories=[
            SeedMemory.model_validate({"text": text, "emotion": emotion})
            for text, emotion in memories or []
        ],
        extensions=extensions or {},
    )


def write_card(
    folder: Path,
    name: str,
    memories: list[tuple[str, dict[str, float]]] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Path:
    """A card YAML file that ``resolve_card``/``load_card`` accept, for CLI tests."""
    data: dict[str, Any] = {
        "name": name,
        "description": "A character for memory tests.",
        "personality": {
            "big_five": {
                "openness": 0.5,
                "conscientiousness": 0.5,
                "extraversion": 0.5,
                "agreeableness": 0.5,
                "neuroticism": 0.5,
            }
        },
    }
    if memories:
        data["memories"] = [
            {"text": text, **({"emotion": emotion} if emotion else {})}
            for text, emotion in memories
        ]
    if extensions:
        data["extensions"] = extensions
    path = folder / f"card-{uuid.uuid4().hex[:8]}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# Four memories about one topic that differ only in feeling, reused across tests.
LIGHTHOUSE_MEMORIES: list[tuple[str, dict[str, float]]] = [
    ("On my birthday Dad let me light the lighthouse lamp and I laughed with joy.", {}),
    ("The night of the storm I was alone in the lighthouse, terrified I would drown.", {}),
    ("After Dad died I climbed the lighthouse stairs alone and cried for hours.", {}),
    ("The council voted to close the lighthouse and I was furious with them.", {}),
]
