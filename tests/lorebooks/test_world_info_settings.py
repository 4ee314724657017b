"""SillyTavern's per-entry settings in World Info files: mapped onto the card model, checked
for type (one line naming file, entry and field), followed in a chat, exported unchanged.

tests/lorebooks/data/saltmarsh.json is shaped like a SillyTavern 1.12/1.13 export: uids,
every field SillyTavern writes (also the ones not interpreted here: sticky, cooldown,
automationId, outletName, characterFilter, ...), inclusion groups, a probability, every
position code from 0 to 7, roles, an entry scan depth and the three recursion flags.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roleplay.cards.model import Lorebook
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.lorebooks.store import LorebookStore
from roleplay.lorebooks.world_info import parse_world_info
from roleplay.prompting.lorebook import LorebookScanner
from tests.cards.conftest import VALID_CARD
from tests.helpers.cli_errors import assert_one_line_error
from tests.helpers.scripted_engine import ScriptedEngine
from tests.lorebooks.conftest import DATA

SALTMARSH = DATA / "saltmarsh.json"
runner = CliRunner()


def invoke(*args: str) -> Any:
    from roleplay.cli.main import app

    return runner.invoke(app, list(args), env={"COLUMNS": "80"})


def saltmarsh(**settings: Any) -> Lorebook:
    book = parse_world_info(SALTMARSH.read_bytes(), str(SALTMARSH), name="saltmarsh")
    return book.model_copy(update=settings)


def entries(book: Lorebook) -> dict[str, Any]:
    return {entry.comment or "": entry for entry in book.entries}


def test_every_setting_is_mapped() -> None:
    found = entries(saltmarsh())
    placed = {name: (entry.position, entry.depth, entry.role) for name, entry in found.items()}
    assert placed == {
        "Saltmarsh": ("before_char", 4, None),  # role null: SillyTavern's default (system)
        "Rain": ("after_char", 4, None),
        "Fog": ("after_char", 4, None),
        "Storm warning": ("after_char", 4, None),
        "Ghost ship": ("at_depth", 1, "assistant"),
        "Harbourmaster": ("at_depth", 0, "user"),
        "Lighthouse": ("after_char", 4, None),
        "Keeper": ("after_char", 4, None),
        "Smugglers cove": ("after_char", 4, None),
        "Tide tables": ("at_depth", 4, None),  # 2: the top of the Author's Note
        "Sea shanty": ("after_char", 4, None),  # 6: the bottom of the example messages
        "Ferry": (None, 4, None),  # 7: an outlet, not supported: the default placement
    }
    rain, fog, storm = found["Rain"], found["Fog"], found["Storm warning"]
    assert (rain.group, rain.group_override, rain.group_weight) == ("weather", False, 100)
    assert (fog.group, fog.group_weight) == ("weather", 300)
    assert (storm.group, storm.group_override) == ("weather,alarms", True)
    assert found["Saltmarsh"].group is None  # "" is no group
    ghost = found["Ghost ship"]
    assert (ghost.probability, ghost.use_probability) == (25, True)
    assert found["Harbourmaster"].scan_depth == 5 and found["Rain"].scan_depth is None
    assert found["Lighthouse"].prevent_recursion is True
    assert found["Keeper"].exclude_recursion is True
    assert found["Smugglers cove"].delay_until_recursion is True
    assert found["Rain"].delay_until_recursion is False


def test_the_scanner_follows_them() -> None:
    scanner = LorebookScanner(saltmarsh(recursive_scanning=True))
    history = [
        ChatMessage("user", "We asked the harbourmaster about the cove."),
        ChatMessage("assistant", "He said nothing."),
        ChatMessage("user", "A ghost?"),
        ChatMessage("assistant", "Then the weather turned: a storm, and fog."),
        ChatMessage("user", "Sing a shanty about the tide by the lighthouse!"),
    ]
    kept = {snippet.name.strip("'"): snippet for snippet in scanner.scan(history)}
    # Saltmarsh (constant), Storm warning (overrides its group), Harbourmaster (its scan
    # depth 5 reaches the first message), Lighthouse, Tide tables and Sea shanty (the new
    # message), then by recursion Smugglers cove (delayed until recursion: the cove is named
    # in the Harbourmaster entry) and Ferry (named in Saltmarsh's). The ghost is 3 messages
    # back: outside the book's default scan depth of 2.
    assert set(kept) == {
        "Saltmarsh",
        "Storm warning",
        "Harbourmaster",
        "Lighthouse",
        "Tide tables",
        "Sea shanty",
        "Smugglers cove",
        "Ferry",
    }
    assert kept["Harbourmaster"].reason == "key 'harbourmaster' in message -5"
    assert kept["Storm warning"].reason.endswith("won inclusion group 'weather' (override)")
    assert kept["Smugglers cove"].reason == "key 'cove' in lore entry 'Harbourmaster'"
    # The lighthouse entry names the keeper, but prevents recursion (and the keeper entry
    # excludes it): the keeper stays out.
    assert "Keeper" not in kept
    assert (kept["Harbourmaster"].position, kept["Harbourmaster"].depth) == ("at_depth", 0)
    assert kept["Harbourmaster"].role == "user"
    assert (kept["Saltmarsh"].position, kept["Tide tables"].position) == ("before_char", "at_depth")
    assert "lore entry 'Fog' left out: lost inclusion group 'weather' to 'Storm warning'" in (
        scanner.notes
    )


def test_the_file_still_exports_byte_for_byte() -> None:
    LorebookStore().import_file(SALTMARSH)
    assert invoke("lorebook", "export", "saltmarsh").stdout_bytes == SALTMARSH.read_bytes()
    record = json.loads(invoke("lorebook", "show", "saltmarsh", "--json").stdout)
    shown = {entry["comment"]: entry for entry in record["entries"]}
    assert shown["Ghost ship"]["probability"] == 25
    assert shown["Ghost ship"]["role"] == "assistant"


def test_group_and_probability_notes_reach_roleplay_prompt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("roleplay.cli.runtime.load_engine", lambda *a, **k: ScriptedEngine())
    monkeypatch.setattr("roleplay.application.ToxicityFlag", lambda: None)
    LorebookStore().import_file(SALTMARSH)
    card = tmp_path / "card.yaml"
    card.write_text(VALID_CARD, encoding="utf-8")
    args = ["prompt", "--no-memory", "--no-steer", "-c", str(card), "--lorebook", "saltmarsh"]
    result = invoke(*args, "--json", "A storm in the fog!")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert "'saltmarsh/Storm warning'" in {entry["name"] for entry in record["lore"]}
    assert record["lore_notes"] == [
        "lore entry 'saltmarsh/Fog' left out: lost inclusion group 'weather' to "
        "'saltmarsh/Storm warning'"
    ]
    again = json.loads(invoke(*args, "--json", "A storm in the fog!").stdout)
    assert again["lore"] == record["lore"]  # the same chat, the same lore
    shown = " ".join(invoke(*args, "A storm in the fog!").stderr.split())
    assert "-- lore: lore entry 'saltmarsh/Fog' left out: lost inclusion group" in shown


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"position": "before"}, "position must be a position code (0-6), not 'before'"),
        ({"position": -1}, "position must be a position code (0-6), not -1"),
        ({"depth": "4"}, "depth must be a whole number from 0 to 1000, not '4'"),
        ({"depth": 1001}, "depth must be a whole number from 0 to 1000, not 1001"),
        ({"role": 3}, "role must be 0 (system), 1 (user) or 2 (assistant), not 3"),
        ({"role": "user"}, "role must be 0 (system), 1 (user) or 2 (assistant), not 'user'"),
        ({"probability": "50%"}, "probability must be a whole number from 0 to 100, not '50%'"),
        ({"probability": 12.5}, "probability must be a whole number from 0 to 100, not 12.5"),
        ({"useProbability": 1}, "useProbability must be true or false, not 1"),
        ({"group": ["a", "b"]}, "group must be text, not an array"),
        ({"groupOverride": "yes"}, "groupOverride must be true or false, not 'yes'"),
        ({"groupWeight": -5}, "groupWeight must be a whole number from 0 to 1000000, not -5"),
        ({"scanDepth": 2000}, "scanDepth must be a whole number from 0 to 1000, not 2000"),
        ({"excludeRecursion": "no"}, "excludeRecursion must be true or false, not 'no'"),
        ({"preventRecursion": 0}, "preventRecursion must be true or false, not 0"),
        (
            {"delayUntilRecursion": "later"},
            "delayUntilRecursion must be true, false or a recursion level from 1 to 1000, "
            "not 'later'",
        ),
    ],
)
def test_a_wrong_type_is_one_line_naming_file_entry_and_field(
    tmp_path: Path, fields: dict[str, Any], message: str
) -> None:
    document = json.loads(SALTMARSH.read_text(encoding="utf-8"))
    document["entries"]["4"].update(fields)
    source = tmp_path / "bad.json"
    source.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(RoleplayError) as raised:
        parse_world_info(source.read_bytes(), str(source))
    assert str(raised.value) == f"{source}: entry '4': {message}"
    assert_one_line_error(invoke("lorebook", "import", str(source)), str(source), message)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"position": 7}, {"position": None}),
        ({"position": 42}, {"position": None}),
        ({"position": 4.0, "depth": 2.0}, {"position": "at_depth", "depth": 2}),
        ({"delayUntilRecursion": 0}, {"delay_until_recursion": False}),
        ({"delayUntilRecursion": 3}, {"delay_until_recursion": 3}),
        ({"group": "   "}, {"group": None}),
        ({"probability": None, "useProbability": None, "role": None}, {"probability": None}),
        ({"scanDepth": 0}, {"scan_depth": 0}),
    ],
)
def test_what_sillytavern_writes_is_accepted(
    fields: dict[str, Any], expected: dict[str, Any]
) -> None:
    document = json.loads(SALTMARSH.read_text(encoding="utf-8"))
    document["entries"]["4"].update(fields)
    book = parse_world_info(json.dumps(document).encode(), "b")
    ghost = entries(book)["Ghost ship"]
    assert {field: getattr(ghost, field) for field in expected} == expected
