"""`roleplay chat -c a,b`: group scenes from the command line, on a real (tiny) model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cli.main import app

runner = CliRunner()


def _invoke(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def _group_args(model: Path) -> list[str]:
    return ["chat", "--model", str(model), "--max-new-tokens", "4", "--seed", "2"]


def test_once_json_prints_each_speakers_reply_and_the_scene_resumes(
    tiny_model_dir: Path,
) -> None:
    code, out, err = _invoke(
        *_group_args(tiny_model_dir),
        "-c",
        "mira,sable",
        "--no-memory",
        "--once",
        "Sable, Mira: report!",
        "--json",
    )
    assert code == 0, err
    record = json.loads(out)
    speakers = [reply["speaker"] for reply in record["replies"]]
    # Both were named: both answer, in the order they were named.
    assert speakers == ["Sable", "Captain Mira Voss"]
    assert all(isinstance(reply["text"], str) for reply in record["replies"])
    _, listed, _ = _invoke("sessions", "list", "--json")
    assert json.loads(listed)[0]["character"] == "Captain Mira Voss, Sable"
    code, out, err = _invoke(
        *_group_args(tiny_model_dir),
        "--session",
        record["session"],
        "--no-memory",
        "--once",
        "Sable?",
        "--json",
    )
    assert code == 0, err
    again = json.loads(out)
    assert again["session"] == record["session"]
    assert again["replies"][0]["speaker"] == "Sable"


def test_interactive_commands_change_the_scene(tiny_model_dir: Path) -> None:
    script = "\n".join(
        ["/as Zed", "/join hana", "/leave pip", "/mute sable", "/who", "/as hana", "/quit"]
    )
    code, out, err = _invoke(
        *_group_args(tiny_model_dir),
        "-c",
        "mira,sable,pip",
        "--no-memory",
        "--no-steer",
        "--order",
        "manual",
        stdin=script + "\n",
    )
    assert code == 0, err
    assert "error: 'Zed' is not in this scene" in out
    assert "Hana Sato joins the scene" in out
    assert "Pip Marigold leaves the scene" in out
    assert "Sable (muted)" in out and "Pip Marigold (away)" in out
    session_id = out.rsplit("roleplay chat --session ", 1)[1].split()[0]
    _, shown, _ = _invoke("sessions", "show", session_id, "--json")
    messages = json.loads(shown)
    assert messages[-1]["metadata"]["speaker"] == "Hana Sato"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["-c", "mira,nobody-here"], "nobody-here"),
        (["-c", "mira,,sable"], "empty name between commas"),
        (["-c", "mira,sable", "--order", "loudest"], "speaker order 'loudest'"),
        (["-c", "mira,mira"], "named twice"),
        (["--user", "Ann", "--persona", "Kes"], "--user and --persona"),
    ],
)
def test_bad_group_input_is_one_line_exit_2(
    tiny_model_dir: Path, args: list[str], expected: str
) -> None:
    code, _, err = _invoke("chat", "--model", str(tiny_model_dir), *args, "--once", "x")
    assert code == 2
    assert expected in err and len(err.strip().splitlines()) == 1
    _, listed, _ = _invoke("sessions", "list", "--json")
    assert json.loads(listed) == []


def test_once_without_json_prints_each_line_with_its_speaker(tiny_model_dir: Path) -> None:
    code, out, err = _invoke(
        *_group_args(tiny_model_dir), "-c", "mira,sable", "--no-memory", "--once", "Sable?"
    )
    assert code == 0, err
    assert out.startswith("Sable: ")
    assert "session " in out
