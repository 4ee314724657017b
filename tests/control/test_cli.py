"""``roleplay steer list|build``: output, caching and one-line errors with exit code 2."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cli.steer_commands import steer_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def restore_environment() -> Iterator[None]:
    # load_model() points library caches at ROLEPLAY_HOME through os.environ.
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def test_list_shows_every_attribute() -> None:
    result = runner.invoke(steer_app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for name in ("openness", "conscientiousness", "extraversion", "agreeableness"):
        assert name in result.output
    assert "neuroticism" in result.output and "formality" in result.output


def test_build_then_cached(tiny_folder: Path) -> None:
    arguments = ["build", "--model", str(tiny_folder), "--attributes", "sentiment,formality"]
    first = runner.invoke(steer_app, [*arguments, "--layers", "1,2"], env={"COLUMNS": "200"})
    assert first.exit_code == 0, first.output
    assert "2 built, 0 from cache" in first.output
    second = runner.invoke(steer_app, [*arguments, "--layers", "1,2"], env={"COLUMNS": "200"})
    assert "0 built, 2 from cache" in second.output
    listing = runner.invoke(steer_app, ["list"], env={"COLUMNS": "200"})
    assert "tiny-llama" in listing.output  # the cached model's id


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["build", "--attributes", "sentimnt"],
            "error: unknown attribute 'sentimnt' (did you mean",
        ),
        (["build", "--layers", "a,b"], "error: --layers: expected layer numbers"),
    ],
)
def test_bad_input_exits_2_with_one_line(arguments: list[str], message: str) -> None:
    result = runner.invoke(steer_app, arguments)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1
