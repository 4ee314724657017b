"""Helpers for the persona tests: user cards written into ``<home>/characters``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from roleplay.paths import user_characters_dir
from tests.helpers.cli_errors import assert_one_line_error

runner = CliRunner()


def write_card(slug: str, name: str, scores: tuple[float, ...], mbti: str | None = None) -> Path:
    """A small valid card with these OCEAN ``scores`` in the user characters folder."""
    openness, conscientiousness, extraversion, agreeableness, neuroticism = scores
    lines = [
        f"name: {name}",
        f"description: {name} is a test character.",
        "personality:",
        f"  big_five: {{openness: {openness}, conscientiousness: {conscientiousness}, "
        f"extraversion: {extraversion}, agreeableness: {agreeableness}, "
        f"neuroticism: {neuroticism}}}",
    ]
    if mbti:
        lines.append(f"  mbti: {mbti}")
    folder = user_characters_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{slug}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def invoke(*args: str) -> Any:
    from roleplay.cli.main import app

    return runner.invoke(app, list(args), env={"COLUMNS": "100"})


__all__ = ["assert_one_line_error"]
