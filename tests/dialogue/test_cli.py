"""`roleplay generate` end to end on the tiny model: file format, resume, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roleplay.cli.main import app
from roleplay.dialogue import scene as scene_module

runner = CliRunner()
FAST = ["--max-new-tokens", "6", "--no-memory"]


def test_scene_streams_and_writes_jsonl(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "scene.jsonl"
    result = runner.invoke(
        app,
        [
            "generate", "scene", "--characters", "mira,sable,pip", "--topic", "A storm",
            "--turns", "4", "--seed", "3", "--model", str(tiny_model_dir), "--out", str(out),
            *FAST,
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Captain Mira Voss:" in result.stdout and "Pip Marigold:" in result.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["speaker"] for r in records] == [
        "Captain Mira Voss", "Sable", "Pip Marigold", "Captain Mira Voss",
    ]  # fmt: skip
    first = records[0]
    assert set(first) == {
        "scene_id", "turn", "speaker", "text", "topic", "traits", "emotion", "toxicity",
    }  # fmt: skip
    assert first["traits"]["conscientiousness"] == 0.85
    assert first["emotion"]["scorer"] and len(first["emotion"]["scores"]) == 8
    assert 0.0 <= first["toxicity"]["score"] <= 1.0 and first["toxicity"]["scorer"]


def _corpus(tiny_model_dir: Path, topics: Path, out: Path, scenes: int) -> Any:
    return runner.invoke(
        app,
        [
            "generate", "corpus", "--characters", "mira,sable", "--topics", str(topics),
            "--scenes", str(scenes), "--turns", "2", "--out", str(out),
            "--model", str(tiny_model_dir), "--no-annotate", *FAST,
        ],
    )  # fmt: skip


def test_corpus_resumes_after_an_interruption(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    topics = tmp_path / "topics.txt"
    topics.write_text("A storm\nThe festival\n")
    out = tmp_path / "corpus"
    original = scene_module.SceneRunner.run

    def interrupted(self: scene_module.SceneRunner) -> Iterator[Any]:
        for event in original(self):
            yield event
            if self.spec.scene_id == "scene-00001" and isinstance(
                event, scene_module.UtteranceDone
            ):
                raise KeyboardInterrupt  # Ctrl+C in the middle of the second scene

    monkeypatch.setattr(scene_module.SceneRunner, "run", interrupted)
    result = _corpus(tiny_model_dir, topics, out, 3)
    assert result.exit_code != 0  # interrupted (click reports Ctrl+C as exit 130)
    scenes = [json.loads(line) for line in (out / "scenes.jsonl").read_text().splitlines()]
    assert [s["scene_id"] for s in scenes] == ["scene-00000"]
    first_scene = (out / "utterances.jsonl").read_text()
    assert first_scene.count("\n") == 2

    monkeypatch.setattr(scene_module.SceneRunner, "run", original)
    result = _corpus(tiny_model_dir, topics, out, 3)
    assert result.exit_code == 0, result.stderr
    assert "2 generated now, 1 already complete" in result.stdout
    lines = (out / "utterances.jsonl").read_text()
    assert lines.startswith(first_scene)  # the finished scene is kept as it was
    records = [json.loads(line) for line in lines.splitlines()]
    assert [r["scene_id"] for r in records] == ["scene-00000"] * 2 + ["scene-00001"] * 2 + [
        "scene-00002"
    ] * 2
    assert [r["speaker"] for r in records[2:4]] == ["Sable", "Captain Mira Voss"]  # rotated
    assert json.loads((out / "backtest.json").read_text())["samples"] >= 4

    result = _corpus(tiny_model_dir, topics, out, 3)
    assert "0 generated now, 3 already complete" in result.stdout


def test_resuming_with_other_settings_is_refused(tiny_model_dir: Path, tmp_path: Path) -> None:
    topics = tmp_path / "topics.txt"
    topics.write_text("A storm\n")
    out = tmp_path / "corpus"
    assert _corpus(tiny_model_dir, topics, out, 1).exit_code == 0
    topics.write_text("Something else\n")
    result = _corpus(tiny_model_dir, topics, out, 1)
    assert result.exit_code == 2
    assert "other settings" in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scene", "--characters", "mira,nobody", "--topic", "x"], "unknown character 'nobody'"),
        (["scene", "--characters", "mira,sable", "--topic", "x", "--turns", "0"], "--turns"),
        (["scene", "--characters", "mira", "--topic", "x"], "at least 2 characters"),
        (["scene", "--characters", "mira,sable", "--topic", "x", "--policy", "dice"], "policy"),
        (
            [
                "corpus",
                "--characters",
                "mira,sable",
                "--topics",
                "EMPTY",
                "--scenes",
                "1",
                "--out",
                "OUT",
            ],
            "no topics",
        ),
        (
            [
                "corpus",
                "--characters",
                "mira,sable",
                "--topics",
                "EMPTY",
                "--scenes",
                "0",
                "--out",
                "OUT",
            ],
            "--scenes must be at least 1",
        ),
        (["backtest", "OUT"], "not a corpus folder"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n")
    args = [
        str(empty) if a == "EMPTY" else str(tmp_path / "out") if a == "OUT" else a for a in args
    ]
    result = runner.invoke(app, ["generate", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1
