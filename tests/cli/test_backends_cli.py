"""The backend flags as a user meets them: the right backend, one-line errors, exit codes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cli.main import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # nothing listens once the socket is closed


def test_a_gguf_chats_on_llama_cpp_with_control_vectors(tiny_gguf: Path) -> None:
    code, out, err = _invoke(
        "chat",
        "--model",
        str(tiny_gguf),
        "--context-window",
        "4096",
        "--once",
        "Status?",
        "--json",
        "--seed",
        "2",
        "--max-new-tokens",
        "6",
        "--no-memory",
        "--threads",
        "1",
    )
    assert code == 0, err
    record = json.loads(out)
    assert record["backend"] == "llama.cpp"
    assert record["model"].startswith("tiny-llama-")
    assert record["steering"]["method"] == "control_vectors"
    assert record["steering"]["attributes"]["conscientiousness"] > 0


def test_unusable_gguf_is_one_line_exit_2(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_text("this is a text file renamed .gguf\n")
    code, _, err = _invoke("chat", "--model", str(fake), "--once", "hi")
    assert code == 2
    assert err.strip().count("\n") == 0 and "Traceback" not in err
    assert "not a GGUF file" in err and str(fake) in err


def test_backend_choices_are_checked_before_loading() -> None:
    code, _, err = _invoke("chat", "--backend", "openai", "--once", "hi")
    assert code == 2 and "--base-url" in err
    code, _, err = _invoke("chat", "--backend", "vllm", "--once", "hi")
    assert code == 2 and "use one of auto, llama.cpp, transformers, openai" in err


def test_unreachable_server_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/v1"
    code, _, err = _invoke("chat", "--base-url", url, "--once", "hi", "--no-memory")
    assert code == 2 and "Traceback" not in err
    # A status line may come first ("Connecting to ..."); the error is one line, the last.
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and url in last
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1


def test_models_lists_the_embedded_model_and_data_dir_ggufs(
    tiny_gguf: Path, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = isolated_home / "models"
    folder.mkdir(parents=True)
    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(folder))
    (folder / "tiny.gguf").write_bytes(tiny_gguf.read_bytes())
    (folder / "broken.gguf").write_bytes(b"GGUF")
    code, out, err = _invoke("models", "--json")
    assert code == 0, err
    entries = {Path(entry["name"]).name: entry for entry in json.loads(out)}
    embedded = next(e for e in entries.values() if e["source"] == "embedded")
    assert embedded["backend"] == "llama.cpp" and embedded["architecture"] == "llama"
    assert entries["tiny.gguf"]["architecture"] == "llama" and not entries["tiny.gguf"]["problem"]
    assert "truncated" in entries["broken.gguf"]["problem"]
