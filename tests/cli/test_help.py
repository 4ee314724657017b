"""Every command's --help fits 80 columns and shows flags as flags; the README's examples
name commands, options and characters that exist."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from roleplay.cards.registry import resolve_card
from roleplay.cli.main import app

REPO_ROOT = Path(__file__).resolve().parents[2]
WIDTH = 80
runner = CliRunner()


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    if hasattr(command, "list_commands"):
        for name in command.list_commands(None):
            yield from _command_paths(command.get_command(None, name), (*path, name))


COMMAND_PATHS = list(_command_paths(typer.main.get_command(app)))


def test_the_walk_finds_every_command() -> None:
    for expected in [("chat",), ("card", "validate"), ("steer", "build"), ("tui",), ("audit",)]:
        assert expected in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda path: " ".join(path) or "roleplay")
def test_help_fits_80_columns_and_shows_flags_as_flags(path: tuple[str, ...]) -> None:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": str(WIDTH)})
    assert result.exit_code == 0, result.output
    text = result.output
    too_long = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_long, too_long
    assert "<bool>" not in text
    # Shell completion belongs to the root alone, never to each command.
    assert "--install-completion" not in text and "--show-completion" not in text
    # A command list whose summaries are cut ("...") says less than it should.
    listed = text.partition("Commands:")[2]
    assert not [line for line in listed.splitlines() if line.endswith("...")], listed


def _readme_examples() -> list[str]:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.startswith("roleplay ")]


def _parse(words: list[str]) -> Any:
    """The click context for ``words`` (after ``roleplay``): options and arguments parsed
    and type-checked, nothing run."""
    command: Any = typer.main.get_command(app)
    path = ["roleplay"]
    while hasattr(command, "get_command") and words and not words[0].startswith("-"):
        name, *words = words
        command = command.get_command(None, name)
        assert command is not None, f"no command {' '.join([*path, name])}"
        path.append(name)
    return command.make_context(" ".join(path), words)


CHARACTER_OPTIONS = {"character", "characters"}
PLACEHOLDERS = {"ID"}  # `--session ID`: the README says where an id comes from


@pytest.mark.parametrize("example", _readme_examples())
def test_readme_examples_name_real_commands_options_and_characters(example: str) -> None:
    context = _parse(shlex.split(example, comments=True)[1:])
    for name, value in context.params.items():
        if name in CHARACTER_OPTIONS and value:
            values = value if isinstance(value, list) else [value]
            for reference in (part for item in values for part in item.split(",")):
                resolve_card(reference)
    assert not PLACEHOLDERS & {str(value) for value in context.params.values()} or (
        "roleplay sessions list" in example
    )


def test_readme_has_examples() -> None:
    assert len(_readme_examples()) >= 15
