"""Every input a command takes is checked before a model loads (a typo fails in milliseconds),
`-c` takes any unambiguous prefix, and what the CLI prints about cards and sessions is whole."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from roleplay.application import open_store
from roleplay.cards.registry import bundled_characters_dir, resolve_card, user_characters_dir
from roleplay.cli.main import app
from roleplay.errors import RoleplayError
from roleplay.paths import safe_slug
from tests.cards.conftest import VALID_CARD

runner = CliRunner()

TAB_INDENTED_CARD = "name: Tabby\ndescription: x\npersonality:\n\tbig_five: {}\n"


class ModelLoaded(Exception):
    """Raised instead of loading a model: the command got past its checks."""


@pytest.fixture(autouse=True)
def no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every face loads its model through roleplay.application.load_engine (the CLI through
    # its imported name in roleplay.cli.runtime); reaching it means validation is over.
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ModelLoaded

    monkeypatch.setattr("roleplay.application.load_engine", refuse)
    monkeypatch.setattr("roleplay.cli.runtime.load_engine", refuse)


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), env={"COLUMNS": "80"})


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert not isinstance(result.exception, ModelLoaded), "the model loaded before the check"
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def user_card(file_name: str, text: str = VALID_CARD) -> Path:
    folder = user_characters_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    path.write_text(text, encoding="utf-8")
    return path


def named(name: str) -> str:
    return VALID_CARD.replace("Test Card", name)


@pytest.fixture
def tab_card(tmp_path: Path) -> Path:
    path = tmp_path / "tabby.yaml"
    path.write_text(TAB_INDENTED_CARD, encoding="utf-8")
    return path


# Cards ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        ["chat", "--once", "hi", "-c", "{card}"],
        ["prompt", "hi", "-c", "{card}"],
        ["eval", "persona", "-c", "{card}"],
        ["generate", "scene", "--topic", "x", "--characters", "mira,{card}"],
    ],
    ids=["chat", "prompt", "eval persona", "generate scene"],
)
def test_a_broken_card_fails_before_the_model_loads(command: list[str], tab_card: Path) -> None:
    result = invoke(*(argument.format(card=tab_card) for argument in command))
    assert_one_line_error(result, f"{tab_card}:4:1", "tabs")


def test_a_broken_card_fails_the_audit_before_out_is_made(tab_card: Path, tmp_path: Path) -> None:
    out = tmp_path / "audit-out"
    result = invoke("audit", "-c", str(tab_card), "--out", str(out))
    assert_one_line_error(result, "tabs")
    assert not out.exists()


def test_an_unknown_character_fails_before_the_model_loads() -> None:
    assert_one_line_error(invoke("chat", "-c", "nobody", "--once", "x"), "roleplay characters")


def test_an_unknown_card_set_fails_before_the_model_loads() -> None:
    assert_one_line_error(invoke("eval", "persona", "--card-set", "frozen"), "bundled, evaluation")


def test_a_card_set_and_characters_together_fail_before_the_model_loads() -> None:
    result = invoke("eval", "persona", "--card-set", "evaluation", "-c", "mira")
    assert_one_line_error(result, "--character or --card-set")


def test_a_conversation_seed_without_a_conversation_fails_before_the_model_loads() -> None:
    result = invoke("eval", "persona", "-c", "mira", "--seed", "3")
    assert_one_line_error(result, "--seed", "--after-turns")


def test_the_evaluation_card_set_gets_to_the_model() -> None:
    result = invoke("eval", "persona", "--card-set", "evaluation")
    assert isinstance(result.exception, ModelLoaded), result.output


# Sessions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("command", [["chat", "--once", "x"], ["prompt", "x"]])
def test_an_unknown_session_fails_before_the_model_loads(command: list[str]) -> None:
    result = invoke(*command, "--session", "0123456789ab")
    assert_one_line_error(result, "unknown session '0123456789ab'", "roleplay sessions list")


def test_a_session_whose_card_is_gone_fails_before_the_model_loads(tmp_path: Path) -> None:
    store = open_store()
    session = store.create_session(
        character="Gone", card_ref=str(tmp_path / "gone.yaml"), model_id="m", user_name="U"
    )
    store.close()
    result = invoke("chat", "--session", session.id, "--once", "x")
    assert_one_line_error(result, "no longer exists")


def test_a_known_session_gets_to_the_model() -> None:
    store = open_store()
    mira = bundled_characters_dir() / "mira.yaml"
    session = store.create_session(
        character="Captain Mira Voss", card_ref=str(mira), model_id="m", user_name="U"
    )
    store.close()
    result = invoke("chat", "--session", session.id, "--once", "x", "--no-memory")
    assert isinstance(result.exception, ModelLoaded), result.output


# Steering values --------------------------------------------------------------------------


def test_a_steer_value_out_of_range_is_clipped_with_a_warning() -> None:
    from roleplay.control.attributes import fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import strength_bound

    result = invoke("chat", "--steer", "extraversion=5,sentiment=-0.5", "--once", "x")
    assert isinstance(result.exception, ModelLoaded), result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    # Clipped to the bundled bound toward extravert (extraversion.yaml's own, or the global);
    # sentiment -0.5 is within its bound and gets no warning.
    bounds, cap = fluency_bounds(load_attributes()), load_config().max_strength
    high = strength_bound("extraversion", 5.0, cap, bounds)
    assert len(warnings) == 1
    assert warnings[0].startswith("warning: --steer extraversion=5 is outside ")
    assert f"..+{high:g}" in warnings[0]
    assert warnings[0].endswith(f"; clipped to +{high:g}")


def test_a_steer_value_in_range_gives_no_warning() -> None:
    from roleplay.control.attributes import fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import strength_bound

    # Exactly the shipped bound toward introvert (extraversion.yaml's own, or the global):
    # the edge of the range is inside it.
    bounds, cap = fluency_bounds(load_attributes()), load_config().max_strength
    low = strength_bound("extraversion", -5.0, cap, bounds)
    result = invoke("prompt", "x", "--steer", f"extraversion=-{low:g}")
    assert isinstance(result.exception, ModelLoaded), result.output
    assert "warning" not in result.stderr


@pytest.mark.parametrize(
    ("steer", "fragment"),
    [("extraversion=lots", "must be a number"), ("sentimnt=1", "unknown attribute")],
)
def test_a_bad_steer_value_fails_before_the_model_loads(steer: str, fragment: str) -> None:
    assert_one_line_error(invoke("chat", "--steer", steer, "--once", "x"), fragment)


# Character names --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["capt", "Captain M", "mi", "SAB"])
def test_an_unambiguous_prefix_of_a_slug_or_name_resolves(prefix: str) -> None:
    expected = "sable.yaml" if prefix == "SAB" else "mira.yaml"
    assert resolve_card(prefix) == bundled_characters_dir() / expected


def test_a_prefix_finds_an_imported_card_with_a_long_slug() -> None:
    path = user_card("coding-sensei-f67a9c2e.yaml", named("Coding Sensei"))
    assert resolve_card("coding") == path
    assert resolve_card("coding sensei") == path  # the exact name, any case


def test_an_ambiguous_prefix_lists_the_candidates_on_one_line() -> None:
    user_card("sam-one.yaml", named("Sam One"))
    user_card("sam-two.yaml", named("Sam Two"))
    with pytest.raises(RoleplayError) as caught:
        resolve_card("sam")
    message = caught.value.message
    assert "\n" not in message
    assert "sam-one (Sam One)" in message and "sam-two (Sam Two)" in message
    assert resolve_card("sam-t") == user_characters_dir() / "sam-two.yaml"


def test_an_ambiguous_prefix_fails_the_command_before_the_model_loads() -> None:
    user_card("sam-one.yaml", named("Sam One"))
    user_card("sam-two.yaml", named("Sam Two"))
    assert_one_line_error(invoke("chat", "-c", "sa", "--once", "x"), "sam-one", "sable")


def test_a_user_card_hides_the_bundled_card_with_its_slug_in_prefix_search() -> None:
    path = user_card("mira.yaml", named("My Mira"))
    assert resolve_card("mir") == path


@pytest.mark.parametrize(
    "name", ["Coding Sensei", "A Character With A Rather Long Imported Name, Second Of That Name"]
)
def test_characters_prints_slugs_whole_at_80_columns(name: str) -> None:
    slug = safe_slug(name)  # what `card import` names the file
    user_card(f"{slug}.yaml", named(name))
    result = invoke("characters")
    assert result.exit_code == 0, result.output
    assert slug in result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    if len(slug) < 30:  # a usual slug leaves room for every other column too
        assert "…" not in result.stdout


# Interrupted replies ----------------------------------------------------------------------


def _conversation_with_an_interrupted_reply() -> Any:
    store = open_store()
    session = store.create_session(
        character="Mira", card_ref="mira.yaml", model_id="m", user_name="Ann"
    )
    store.append_message(session.id, "user", "Report.")
    store.append_message(session.id, "assistant", "Engines are", metadata={"interrupted": True})
    store.append_message(session.id, "user", "Go on.")
    store.append_message(session.id, "assistant", "They hold.")
    return SimpleNamespace(
        card=SimpleNamespace(name="Mira"),
        session=store.get_session(session.id),
        store=store,
        messages=lambda: store.branch(session.id),
    )


def test_history_marks_an_interrupted_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    from roleplay.cli import chat

    shown = io.StringIO()
    monkeypatch.setattr(chat, "console", Console(file=shown, width=80, highlight=False))
    chat._show_history(_conversation_with_an_interrupted_reply())
    lines = shown.getvalue().splitlines()
    assert any("Engines are (interrupted)" in line for line in lines)
    assert not any("They hold. (interrupted)" in line for line in lines)


def test_sessions_show_marks_an_interrupted_reply() -> None:
    conversation = _conversation_with_an_interrupted_reply()
    result = invoke("sessions", "show", conversation.session.id)
    assert result.exit_code == 0, result.output
    assert "Mira: Engines are (interrupted)" in result.stdout
    assert "Mira: They hold.\n" in result.stdout


# Generation defaults and missing parts ----------------------------------------------------


def test_generate_names_the_missing_package_of_an_unavailable_part(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from roleplay.cli import generate_commands
    from roleplay.dialogue.turns import Policy
    from roleplay.evaluation import parts

    monkeypatch.setattr(parts, "controller_factory", lambda *_: None)
    monkeypatch.setattr(parts, "controller_missing", lambda: "torch")
    monkeypatch.setattr(parts, "memory_factory", lambda *_: None)
    monkeypatch.setattr(parts, "memory_missing", lambda: "chromadb")
    shown = io.StringIO()
    monkeypatch.setattr(generate_commands, "status_console", Console(file=shown, width=200))
    generate_commands._runner_parts(object(), True, True, Policy.ROUND_ROBIN)
    assert shown.getvalue().splitlines() == [
        "steering unavailable: module 'torch' is not installed",
        "memory unavailable: module 'chromadb' is not installed",
    ]


def test_docs_quote_the_default_generation_settings() -> None:
    from roleplay.engine.base import DEFAULT_GENERATION

    serve_doc = (Path(__file__).resolve().parents[2] / "docs" / "serve.md").read_text()
    row = next(line for line in serve_doc.splitlines() if "`--max-new-tokens`" in line)
    assert f"{DEFAULT_GENERATION.max_new_tokens}, {DEFAULT_GENERATION.temperature:g}" in row
