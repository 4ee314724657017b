"""`roleplay card validate` and `roleplay characters`, mounted as the main CLI mounts them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from roleplay.cards.registry import user_characters_dir
from roleplay.cli.card_commands import card_app, characters_command
from tests.cards.conftest import VALID_CARD, WriteCard


@pytest.fixture
def app() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(card_app, name="card")
    app.command("characters")(characters_command)
    return app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def run(runner: CliRunner, app: typer.Typer, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def test_validate_good_card(runner: CliRunner, app: typer.Typer, write_card: WriteCard) -> None:
    path = write_card(VALID_CARD)
    code, output = run(runner, app, "card", "validate", str(path))
    assert code == 0
    assert output.splitlines() == [f"ok: {path} (Test Card)"]


def test_validate_bundled_cards(runner: CliRunner, app: typer.Typer) -> None:
    paths = sorted(str(path) for path in Path("characters").resolve().glob("*.yaml"))
    code, output = run(runner, app, "card", "validate", *paths)
    assert code == 0
    assert [line.split(" (")[0] for line in output.splitlines()] == [f"ok: {p}" for p in paths]


def test_validate_bad_card(runner: CliRunner, app: typer.Typer, write_card: WriteCard) -> None:
    path = write_card(VALID_CARD.replace("openness: 0.5", "openness: 1.7") + "greting: hi\n")
    code, output = run(runner, app, "card", "validate", str(path))
    assert code == 2
    lines = output.splitlines()
    assert lines == [
        f"{path}:5:15: personality.big_five.openness: must be a number between 0 and 1, got 1.7",
        f"{path}:10:1: unknown field 'greting' (did you mean 'greeting'?)",
        "1 of 1 card failed validation",
    ]


def test_long_problem_lines_are_not_wrapped(
    runner: CliRunner, app: typer.Typer, write_card: WriteCard
) -> None:
    path = write_card(
        VALID_CARD + "memories:\n  - {text: x, emotion: {sadnes: 0.5}}\n", "a" * 60 + ".yaml"
    )
    code, output = run(runner, app, "card", "validate", str(path))
    assert code == 2
    first = output.splitlines()[0]
    assert first.startswith(f"{path}:11:25: memories[0].emotion: key 'sadnes'")
    assert first.endswith("(did you mean 'sadness'?)")


def test_validate_mixed_cards_exits_2(
    runner: CliRunner, app: typer.Typer, write_card: WriteCard, tmp_path: Path
) -> None:
    good = write_card(VALID_CARD, "good.yaml")
    binary = write_card(b"\x00\x01\x02", "binary.yaml")
    code, output = run(
        runner,
        app,
        "card",
        "validate",
        str(good),
        str(binary),
        str(tmp_path),
        str(tmp_path / "no.yaml"),
    )
    assert code == 2
    assert output.splitlines() == [
        f"ok: {good} (Test Card)",
        f"{binary}:1:1: binary file (contains NUL bytes), not YAML text",
        f"{tmp_path}:1:1: is a directory, not a card file (give the path of a .yaml file)",
        f"{tmp_path / 'no.yaml'}:1:1: file not found",
        "3 of 4 cards failed validation",
    ]


def test_warnings_alone_exit_0(runner: CliRunner, app: typer.Typer, write_card: WriteCard) -> None:
    path = write_card(
        VALID_CARD.replace("  big_five:", "  mbti: ESTJ\n  big_five:").replace(
            "extraversion: 0.5", "extraversion: 0.1"
        )
    )
    code, output = run(runner, app, "card", "validate", str(path))
    assert code == 0
    assert output.splitlines()[0] == f"ok: {path} (Test Card)"
    assert output.splitlines()[1].startswith(f"{path}:4:9: warning: personality.mbti: 'E'")


def test_card_text_is_never_rich_markup(
    runner: CliRunner, app: typer.Typer, write_card: WriteCard
) -> None:
    path = write_card(VALID_CARD.replace("Test Card", "'[bold red]Evil[/bold red] :smile:'"))
    code, output = run(runner, app, "card", "validate", str(path))
    assert code == 0
    assert output.strip() == f"ok: {path} ([bold red]Evil[/bold red] :smile:)"


def test_validate_without_paths_is_a_usage_error(runner: CliRunner, app: typer.Typer) -> None:
    code, _ = run(runner, app, "card", "validate")
    assert code == 2


def test_characters_table(runner: CliRunner, app: typer.Typer) -> None:
    code, output = run(runner, app, "characters")
    assert code == 0
    for slug, name, mbti in [("mira", "Captain Mira Voss", "ISTJ"), ("sable", "Sable", "INTJ")]:
        row = next(line for line in output.splitlines() if f" {slug} " in line)
        assert name in row and mbti in row and "bundled" in row
    assert "O0.45 C0.85 E0.30 A0.40 N0.25" in output


def test_characters_json(runner: CliRunner, app: typer.Typer) -> None:
    folder = user_characters_dir()
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("name: [\n")
    code, output = run(runner, app, "characters", "--json")
    assert code == 0
    entries = json.loads(output)
    assert [entry["slug"] for entry in entries] == [
        "broken",
        "elias",
        "hana",
        "mira",
        "pip",
        "sable",
    ]
    broken, mira = entries[0], entries[3]
    assert broken["source"] == "user" and broken["error"] and broken["mbti"] is None
    assert mira == {
        "slug": "mira",
        "name": "Captain Mira Voss",
        "path": mira["path"],
        "source": "bundled",
        "mbti": "ISTJ",
        "big_five": {
            "openness": 0.45,
            "conscientiousness": 0.85,
            "extraversion": 0.3,
            "agreeableness": 0.4,
            "neuroticism": 0.25,
        },
        "error": None,
    }
    assert Path(mira["path"]).name == "mira.yaml"


def test_characters_table_shows_broken_cards(runner: CliRunner, app: typer.Typer) -> None:
    folder = user_characters_dir()
    folder.mkdir(parents=True)
    (folder / "broken.yaml").write_text("- not a mapping\n")
    code, output = run(runner, app, "characters")
    assert code == 0
    assert "broken" in output and "user" in output
