"""Imported lorebooks in a chat: `--lorebook` on chat/prompt/serve/tui and a card's own list,
scanned with the card's embedded book by the existing engine (roleplay.prompting.lorebook;
its rules are tested in tests/prompting/test_lorebook.py, here only the wiring)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roleplay.application import RuntimeOptions, build_pipeline
from roleplay.features import FeatureOptions
from roleplay.lorebooks.store import LorebookStore, lorebooks_dir
from tests.cards.conftest import VALID_CARD
from tests.helpers.cli_errors import assert_one_line_error as one_line_error
from tests.helpers.scripted_engine import ScriptedEngine
from tests.lorebooks.conftest import SHADOWFEN, world_info

runner = CliRunner()
NO_EXTRAS = ["--no-memory", "--no-steer"]


class ModelLoaded(Exception):
    """Raised instead of loading a model: the command got past its checks."""


def invoke(*args: str) -> Any:
    from roleplay.cli.main import app

    return runner.invoke(app, list(args), env={"COLUMNS": "80"})


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> ScriptedEngine:
    engine = ScriptedEngine()
    monkeypatch.setattr("roleplay.cli.runtime.load_engine", lambda *a, **k: engine)
    monkeypatch.setattr("roleplay.application.ToxicityFlag", lambda: None)
    return engine


@pytest.fixture
def refuse_models(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise ModelLoaded

    monkeypatch.setattr("roleplay.application.load_engine", refuse)
    monkeypatch.setattr("roleplay.cli.runtime.load_engine", refuse)


@pytest.fixture
def shadowfen() -> None:
    LorebookStore().import_file(SHADOWFEN)


def import_book(tmp_path: Path, name: str, document: dict[str, Any]) -> None:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    LorebookStore().import_file(path)


def card(tmp_path: Path, extra: str = "", name: str = "card.yaml") -> Path:
    path = tmp_path / name
    path.write_text(VALID_CARD + extra, encoding="utf-8")
    return path


def prompt_lore(*args: str) -> dict[str, Any]:
    result = invoke("prompt", *NO_EXTRAS, "--json", *args)
    assert result.exit_code == 0, result.output
    record: dict[str, Any] = json.loads(result.stdout)
    return record


def fired(record: dict[str, Any]) -> dict[str, str]:
    return {entry["name"]: entry["reason"] for entry in record["lore"]}


@pytest.mark.usefixtures("scripted", "shadowfen")
def test_keys_secondary_logic_and_constant_entries_fire_in_prompt(tmp_path: Path) -> None:
    path = str(card(tmp_path))
    record = prompt_lore("-c", path, "--lorebook", "shadowfen", "How much is the bridge toll?")
    assert fired(record) == {
        "'shadowfen/Shadowfen'": "constant",
        "'shadowfen/Bridge toll'": "key 'bridge' in message -1 and secondary key 'toll' "
        "in message -1",
    }
    assert "# World notes" in record["text"]
    assert "{{user}}" not in record["text"] and "User is a stranger here." in record["text"]
    # and_any: the primary key alone is not enough.
    assert "'shadowfen/Bridge toll'" not in fired(
        prompt_lore("-c", path, "--lorebook", "shadowfen", "Is the bridge old?")
    )
    # not_any: fires unless a secondary key is there.
    day = fired(prompt_lore("-c", path, "--lorebook", "shadowfen", "Is the bog safe?"))
    assert "'shadowfen/Bog by day'" in day
    night = fired(prompt_lore("-c", path, "--lorebook", "shadowfen", "The bog at night?"))
    assert "'shadowfen/Bog by day'" not in night
    # A disabled entry never fires; recursion is off unless the book says so.
    kestrel = fired(prompt_lore("-c", path, "--lorebook", "shadowfen", "Where is Kestrel?"))
    assert set(kestrel) == {"'shadowfen/Shadowfen'", "'shadowfen/Kestrel'"}
    # Regex keys work as in embedded books.
    bruecke = fired(prompt_lore("-c", path, "--lorebook", "Shadowfen", "Die Bruecke!"))
    assert bruecke["'shadowfen/Brücke'"].startswith("key '/br(ü|ue)cke/i'")


@pytest.mark.usefixtures("scripted", "shadowfen")
def test_prompt_text_lists_where_each_entry_came_from(tmp_path: Path) -> None:
    result = invoke(
        "prompt", *NO_EXTRAS, "-c", str(card(tmp_path)), "--lorebook", "shadowfen", "Kestrel?"
    )
    assert result.exit_code == 0, result.output
    assert "-- lore 'shadowfen/Kestrel' (key 'Kestrel' in message -1)" in result.stderr


@pytest.mark.usefixtures("scripted", "shadowfen")
def test_several_books_and_the_embedded_one_share_one_budget(tmp_path: Path) -> None:
    other = {
        "entries": {
            "0": {"uid": 0, "key": ["lamp"], "content": "Lamps burn green.", "comment": "Lamps"}
        }
    }
    import_book(tmp_path, "lamps", other)
    embedded = (
        "lorebook:\n  token_budget: 60\n  entries:\n"
        "    - keys: [archive]\n      content: The card's own archive note.\n"
        "      comment: Own\n"
    )
    path = str(card(tmp_path, embedded))
    record = prompt_lore(
        "-c",
        path,
        "--lorebook",
        "lamps",
        "--lorebook",
        "shadowfen,LAMPS",
        "The archive lamp, please.",
    )
    # The card's 60-token budget governs all books: the long archive entry is left out.
    assert set(fired(record)) == {"'Own'", "'lamps/Lamps'", "'shadowfen/Shadowfen'"}
    assert any("'shadowfen/Drowned Archive' left out" in note for note in record["lore_notes"])
    # Without the card's budget the default (512) applies and the archive fits.
    record = prompt_lore(
        "-c",
        str(card(tmp_path, name="plain.yaml")),
        "--lorebook",
        "shadowfen",
        "The archive, please.",
    )
    assert "'shadowfen/Drowned Archive'" in fired(record)


def test_scan_depth_and_recursion_follow_the_book(tmp_path: Path) -> None:
    deep = world_info(originalData={"scan_depth": 4, "recursive_scanning": True})
    import_book(tmp_path, "deep", deep)
    import_book(tmp_path, "shallow", world_info())
    card_path = card(tmp_path)
    features = FeatureOptions(memory=False, steering=False, toxicity=False)
    for name, expected in (("deep", True), ("shallow", False)):
        engine = ScriptedEngine(("Mm.", "Mm.", "Mm."))
        pipeline = build_pipeline(
            RuntimeOptions(features=features, lorebooks=(name,)), engine=engine
        )
        conversation = pipeline.start(card_path, user_name="Ann")
        conversation.send("Tell me about Kestrel.").text()
        first = engine.prompts[-1]
        # Recursion: Kestrel's entry names the Lantern Court, whose entry then fires.
        assert ("The Lantern Court rules the fen" in first) is expected
        conversation.send("Go on.").text()
        # Kestrel was 3 messages back: inside a scan depth of 4, outside the default 2.
        assert ("Kestrel is the fen's ferryman" in engine.prompts[-1]) is expected


@pytest.mark.usefixtures("scripted", "shadowfen")
def test_a_card_can_name_its_lorebooks(tmp_path: Path) -> None:
    path = card(tmp_path, "extensions:\n  roleplay:\n    lorebooks: [shadowfen]\n")
    assert "'shadowfen/Kestrel'" in fired(prompt_lore("-c", str(path), "Kestrel?"))
    # Named by the card and by --lorebook: scanned once.
    record = prompt_lore("-c", str(path), "--lorebook", "shadowfen", "Kestrel?")
    assert [entry["name"] for entry in record["lore"]].count("'shadowfen/Kestrel'") == 1


def assert_one_line_error(result: Any, *fragments: str) -> None:
    assert not isinstance(result.exception, ModelLoaded), "the model loaded before the check"
    one_line_error(result, *fragments)


@pytest.mark.usefixtures("refuse_models", "shadowfen")
@pytest.mark.parametrize(
    "command",
    [["chat", "--once", "x"], ["prompt", "x"], ["serve"], ["tui"]],
    ids=["chat", "prompt", "serve", "tui"],
)
def test_an_unknown_lorebook_fails_before_the_model_loads(command: list[str]) -> None:
    before = sorted((path.name, path.read_bytes()) for path in lorebooks_dir().iterdir())
    result = invoke(*command, "--lorebook", "shadowfen,nowhere")
    assert_one_line_error(result, "unknown lorebook 'nowhere'", "'shadowfen'", "lorebook import")
    assert sorted((path.name, path.read_bytes()) for path in lorebooks_dir().iterdir()) == before


@pytest.mark.usefixtures("refuse_models")
def test_a_card_naming_a_missing_lorebook_fails_before_the_model_loads(tmp_path: Path) -> None:
    path = card(tmp_path, "extensions:\n  roleplay:\n    lorebooks: [Atlas]\n")
    result = invoke("chat", "-c", str(path), "--once", "x")
    assert_one_line_error(result, "card 'Test Card' names lorebook 'Atlas'", "import")


@pytest.mark.usefixtures("refuse_models")
def test_known_lorebooks_get_to_the_model(tmp_path: Path) -> None:
    LorebookStore().import_file(SHADOWFEN)
    result = invoke("chat", "--once", "x", "--lorebook", "shadowfen")
    assert isinstance(result.exception, ModelLoaded), result.output
