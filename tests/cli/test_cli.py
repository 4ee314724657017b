from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from roleplay.cli.main import app

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_chat_once_json_reports_reply_and_timings(tiny_model_dir: Path) -> None:
    code, out, err = _invoke(
        "chat",
        "--character",
        "mira",
        "--model",
        str(tiny_model_dir),
        "--once",
        "Captain, the engines are failing.",
        "--seed",
        "1",
        "--json",
        "--max-new-tokens",
        "8",
    )
    assert code == 0, err
    record = json.loads(out)
    assert set(record) == {
        "session",
        "reply",
        "tokens",
        "seconds",
        "ttft",
        "backend",
        "model",
        "steering",
    }
    assert record["backend"] == "transformers"  # a Hugging Face folder
    assert record["model"].startswith(tiny_model_dir.name)
    # Mira's card Big Five become attribute strengths, applied by hooks on this backend.
    assert record["steering"]["method"] == "hooks"
    assert record["steering"]["attributes"]["conscientiousness"] > 0
    assert 0 <= record["tokens"] <= 8
    assert record["seconds"] >= record["ttft"] >= 0
    code, out, _ = _invoke("sessions", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["id"] == record["session"]
    assert listed[0]["character"] == "Captain Mira Voss"


def test_same_seed_same_reply_and_session_resumes(tiny_model_dir: Path) -> None:
    args = [
        "chat",
        "--model",
        str(tiny_model_dir),
        "--max-new-tokens",
        "6",
        "--seed",
        "4",
        "--json",
    ]
    # Without long-term memory: with it, the first exchange becomes a memory that the second
    # run recalls into its prompt, so the same seed rightly gives another reply.
    first = json.loads(_invoke(*args, "--no-memory", "--once", "Hello")[1])
    second = json.loads(_invoke(*args, "--no-memory", "--once", "Hello")[1])
    assert first["reply"] == second["reply"]
    third = json.loads(_invoke(*args, "--session", first["session"], "--once", "Again")[1])
    assert third["session"] == first["session"]
    _, out, _ = _invoke("sessions", "show", first["session"], "--json")
    contents = [m["content"] for m in json.loads(out)]
    assert "Hello" in contents and "Again" in contents


def test_prompt_prints_the_rendered_template_and_leaves_no_session(tiny_model_dir: Path) -> None:
    # The tiny model's tokenizer spends more than twice the real model's tokens on Mira's card
    # and character's note; 4096 keeps the greeting in, as 2048 does on the real model.
    code, out, err = _invoke(
        "prompt", "--model", str(tiny_model_dir), "--context-window", "4096", "Status report?"
    )
    assert code == 0, err
    assert out.startswith("<|im_start|>system\nYou are Captain Mira Voss.")
    assert out.endswith("<|im_start|>user\nStatus report?<|im_end|>\n<|im_start|>assistant\n")
    assert "prompt tokens" in err and "dropped 0 oldest" in err
    assert json.loads(_invoke("sessions", "list", "--json")[1]) == []


def test_prompt_json_reports_dropped_messages(tiny_model_dir: Path) -> None:
    code, out, _ = _invoke(
        "prompt", "--model", str(tiny_model_dir), "--context-window", "4096", "--json", "Hi"
    )
    record = json.loads(out)
    assert code == 0
    assert record["dropped_messages"] == 0 and record["prompt_tokens"] <= record["token_budget"]


def test_unknown_character_exits_2_with_one_line(tiny_model_dir: Path) -> None:
    code, out, err = _invoke(
        "chat", "--character", "nobody-here", "--model", str(tiny_model_dir), "--once", "x"
    )
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_missing_model_folder_exits_2(tmp_path: Path) -> None:
    code, out, err = _invoke("chat", "--model", str(tmp_path / "no" / "model"), "--once", "x")
    assert code == 2
    assert "no such model" in err
    assert "Traceback" not in out + err


def test_unknown_session_exits_2(tiny_model_dir: Path) -> None:
    code, _, err = _invoke(
        "chat", "--model", str(tiny_model_dir), "--session", "nope", "--once", "x"
    )
    assert code == 2 and "unknown session 'nope'" in err


def test_commands_are_imported_only_when_they_run() -> None:
    """`roleplay tui` and small commands must not pay for every command's dependencies."""
    probe = (
        "import sys\n"
        "from roleplay.cli.main import app\n"
        "from tui.cli import tui_command\n"
        "heavy = ('roleplay.cards.model', 'roleplay.pipeline', 'roleplay.interop', 'torch')\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
    code, out, _ = _invoke("--help")
    assert code == 0
    for command in ("chat", "card", "sessions", "memory", "steer", "tui", "audit"):
        assert command in out


def test_no_remember_recalls_without_writing_so_the_same_seed_replies_the_same(
    tiny_model_dir: Path,
) -> None:
    args = ["chat", "--model", str(tiny_model_dir), "--max-new-tokens", "6", "--seed", "4"]
    message = "I moved to Oslo last spring, Captain."
    first = json.loads(_invoke(*args, "--no-remember", "--json", "--once", message)[1])
    second = json.loads(_invoke(*args, "--no-remember", "--json", "--once", message)[1])
    assert first["reply"] == second["reply"]

    def remembered() -> list[dict[str, object]]:
        code, out, err = _invoke("memory", "list", "mira", "--json")
        assert code == 0, err
        return [m for m in json.loads(out) if m["kind"] != "seed"]

    assert remembered() == []
    assert json.loads(_invoke("profile", "list", "--json")[1]) == []  # nor learned about them
    # Remembering (the default) keeps what the user said, not the reply.
    code, _, err = _invoke(*args, "--json", "--once", message)
    assert code == 0, err
    (memory,) = remembered()
    assert memory["text"] == message and memory["kind"] == "user_said"
