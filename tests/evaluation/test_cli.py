"""`roleplay eval persona` end to end on the tiny model, and its one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cli.main import app

runner = CliRunner()


def test_persona_json_and_out_folder(tiny_model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "fidelity"
    result = runner.invoke(
        app,
        [
            "eval",
            "persona",
            "-c",
            "mira,sable",
            "--method",
            "expected-likert,likelihood",
            "--conditions",
            "prompt",
            "--model",
            str(tiny_model_dir),
            "--json",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert [r["method"] for r in payload["results"]] == ["expected-likert", "likelihood"]
    assert {c["name"] for c in payload["characters"]} == {"Captain Mira Voss", "Sable"}
    assert json.loads((out / "persona_fidelity.json").read_text()) == payload
    assert (out / "persona_fidelity.png").stat().st_size > 0


def test_persona_prints_a_table(tiny_model_dir: Path) -> None:
    result = runner.invoke(
        app,
        [
            "eval", "persona", "-c", "pip", "-c", "hana", "--method", "likelihood",
            "--conditions", "prompt", "--model", str(tiny_model_dir), "--details",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "Persona fidelity" in result.stdout
    assert "Acc(Dim)" in result.stdout
    assert "Hana Sato" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-c", "nobody"], "unknown character 'nobody'"),
        (["--method", "vibes"], "unknown method 'vibes'"),
        (["--conditions", "prompt,judge"], "unknown condition 'judge'"),
        (["-c", "mira,mira"], "given twice"),
        (["--after-turns", "30"], "the scripted conversation has 20 messages"),
        (["--after-turns", "soon"], "give turn counts"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = runner.invoke(app, ["eval", "persona", *args])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ") and message in result.stderr
