"""Authoring tools: `roleplay card new` (wizard), `card schema` and `card lint`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from roleplay import paths
from roleplay.cards.loader import load_card
from roleplay.cards.personality import big_five_from_mbti
from roleplay.cards.wizard import questionnaire, score_answers
from roleplay.cli.card_commands import card_app
from roleplay.cli.errors import RoleplayGroup
from tests.cards.conftest import VALID_CARD, WriteCard


@pytest.fixture
def app() -> typer.Typer:
    # Mounted under a RoleplayGroup, as the main CLI does, so RoleplayError exits 2.
    app = typer.Typer(cls=RoleplayGroup)
    app.add_typer(card_app, name="card")
    return app


def run(app: typer.Typer, *args: str, stdin: str = "") -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.exit_code, result.output


def _written(folder: Path) -> Path:
    [path] = folder.glob("*.yaml")
    return path


# --- card new -------------------------------------------------------------------------------


def test_new_from_mbti_needs_no_answers(app: typer.Typer, tmp_path: Path) -> None:
    code, output = run(
        app, "card", "new", "--from-mbti", "enfp", "--name", "Zed", "--out", str(tmp_path)
    )
    assert code == 0, output
    path = _written(tmp_path)
    assert f"wrote {path}" in output
    card = load_card(path)
    assert card.name == "Zed" and card.personality.mbti == "ENFP"
    assert card.personality.big_five == big_five_from_mbti("ENFP")
    text = path.read_text(encoding="utf-8")
    assert "# TODO: Who they are" in text
    assert "pre-filled from MBTI ENFP" in text
    assert path.name.startswith("zed-")


def test_new_defaults_to_the_user_characters_folder(app: typer.Typer) -> None:
    code, _ = run(app, "card", "new", "--from-mbti", "ISTJ", "--name", "Ola")
    assert code == 0
    assert load_card(_written(paths.user_characters_dir())).name == "Ola"


def test_new_with_five_numbers(app: typer.Typer, tmp_path: Path) -> None:
    answers = "Zed\nA quiet engineer.\nnumbers\n0.1\n0.2\n1.5\n0.3\n0.4\n0.5\nHello.\n"
    code, output = run(app, "card", "new", "--out", str(tmp_path), stdin=answers)
    assert code == 0, output
    card = load_card(_written(tmp_path))
    assert card.description == "A quiet engineer."
    assert card.personality.big_five.as_dict() == {
        "openness": 0.1,
        "conscientiousness": 0.2,
        "extraversion": 0.3,  # 1.5 was refused and asked again
        "agreeableness": 0.4,
        "neuroticism": 0.5,
    }
    assert card.greeting == "Hello."


def test_new_with_an_mbti_type_asks_again_for_a_bad_one(app: typer.Typer, tmp_path: Path) -> None:
    answers = "Zed\nA pilot.\nmbti\nXXXX\nintj\n\n"
    code, output = run(app, "card", "new", "--out", str(tmp_path), stdin=answers)
    assert code == 0, output
    assert "not one of the 16 MBTI types" in output
    card = load_card(_written(tmp_path))
    assert card.personality.mbti == "INTJ" and card.greeting is None


def test_new_with_the_questionnaire(app: typer.Typer, tmp_path: Path) -> None:
    questions = questionnaire()
    # "Very accurate" for items keyed towards a trait, "very inaccurate" for reversed ones.
    answers = ["1" if question.reverse else "5" for question in questions]
    stdin = "Zed\nA pilot.\nquestionnaire\n" + "\n".join(answers) + "\n\n"
    code, output = run(app, "card", "new", "--out", str(tmp_path), stdin=stdin)
    assert code == 0, output
    assert questions[0].text in output
    assert load_card(_written(tmp_path)).personality.big_five.as_dict() == dict.fromkeys(
        ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"), 1.0
    )


def test_questionnaire_has_two_items_per_trait_one_reversed() -> None:
    questions = questionnaire()
    assert len(questions) == 10
    for trait in ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"):
        assert sorted(q.reverse for q in questions if q.trait == trait) == [False, True]
    neutral = score_answers(questions, [3] * 10)
    assert set(neutral.as_dict().values()) == {0.5}
    with pytest.raises(ValueError):
        score_answers(questions, [6] * 10)


def test_new_refuses_to_overwrite(app: typer.Typer, tmp_path: Path) -> None:
    args = ("card", "new", "--from-mbti", "ENFP", "--name", "Zed", "--out", str(tmp_path))
    assert run(app, *args)[0] == 0
    code, output = run(app, *args)
    assert code == 2 and "already exists; use --force" in output
    assert run(app, *args, "--force")[0] == 0


def test_new_with_a_bad_mbti_option(app: typer.Typer, tmp_path: Path) -> None:
    code, output = run(app, "card", "new", "--from-mbti", "ABCD", "--name", "Zed")
    assert code == 2 and "not one of the 16 MBTI types" in output


# --- card schema ----------------------------------------------------------------------------


def test_schema_describes_the_card_and_accepts_the_bundled_ones(
    app: typer.Typer, characters_dir: Path
) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    from ruamel.yaml import YAML

    code, output = run(app, "card", "schema")
    assert code == 0
    schema = json.loads(output)
    assert schema["title"] == "roleplay character card"
    assert schema["additionalProperties"] is False
    assert {"name", "description", "personality"} <= set(schema["required"])
    assert "lorebook" in schema["properties"]
    assert "Who they are" in schema["properties"]["description"]["description"]
    validator = jsonschema.Draft202012Validator(schema)
    for path in sorted(characters_dir.glob("*.yaml")):
        document = YAML(typ="safe", pure=True).load(path)
        assert list(validator.iter_errors(document)) == [], path.name
    broken = YAML(typ="safe", pure=True).load(VALID_CARD.replace("openness: 0.5", "openness: 1.7"))
    assert list(validator.iter_errors(broken))
    broken["personality"]["openness"] = 0.5
    broken["personality"]["big_five"]["openness"] = 0.5
    broken["personality"]["mbti"] = "ENTJX"
    assert list(validator.iter_errors(broken))


# --- card lint ------------------------------------------------------------------------------


def test_lint_gives_advice_but_exits_0(app: typer.Typer, write_card: WriteCard) -> None:
    long_description = "word " * 300
    path = write_card(
        VALID_CARD.replace("A character used by the tests.", long_description.strip()).replace(
            "extraversion: 0.5", "extraversion: 0.1"
        )
        + "  mbti: ESTJ\n"
    )
    code, output = run(app, "card", "lint", str(path))
    assert code == 0
    lines = output.splitlines()
    assert lines[0] == f"ok: {path} (Test Card)"
    assert any("warning: personality.mbti:" in line for line in lines)
    assert any(": advice: description is about 390 tokens (words x 1.3)" in line for line in lines)
    assert any("advice: no greeting" in line for line in lines)
    assert any("advice: no example_dialogues" in line for line in lines)


def test_lint_of_a_bundled_card_is_quiet(app: typer.Typer, characters_dir: Path) -> None:
    code, output = run(app, "card", "lint", str(characters_dir / "mira.yaml"))
    assert code == 0
    assert "advice" not in output and "warning" not in output


def test_lint_reports_errors_and_exits_2(app: typer.Typer, write_card: WriteCard) -> None:
    path = write_card(VALID_CARD + "greting: hi\n")
    code, output = run(app, "card", "lint", str(path))
    assert code == 2
    assert "unknown field 'greting' (did you mean 'greeting'?)" in output


def test_lint_flags_placeholder_traits_and_dead_lore(
    app: typer.Typer, write_card: WriteCard
) -> None:
    path = write_card(
        VALID_CARD
        + "lorebook:\n  entries:\n    - content: Never fires.\n    - keys: [x]\n"
        + "extensions:\n  roleplay: {traits_source: unset}\n"
    )
    code, output = run(app, "card", "lint", str(path))
    assert code == 0
    assert ":4:3: advice: big_five holds neutral placeholders" in output
    assert ":12:7: advice: lorebook.entries[0] has no keys and is not constant" in output
    assert "lorebook.entries[1] has no content" in output
