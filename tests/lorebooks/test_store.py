"""`roleplay lorebook import/list/show/export/remove`: the store keeps the file byte for byte,
refuses what is not World Info in one line and never writes outside its folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roleplay.errors import RoleplayError
from roleplay.lorebooks.store import LorebookStore, lorebooks_dir
from roleplay.lorebooks.world_info import MAX_FILE_BYTES, parse_world_info
from tests.helpers.cli_errors import assert_one_line_error
from tests.lorebooks.conftest import SHADOWFEN, world_info

runner = CliRunner()


def invoke(*args: str) -> Any:
    return runner.invoke(app(), list(args), env={"COLUMNS": "80"})


def app() -> Any:
    from roleplay.cli.main import app

    return app


def stored_files() -> list[str]:
    folder = lorebooks_dir()
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_import_list_show_export_round_trip_is_byte_exact(tmp_path: Path) -> None:
    result = invoke("lorebook", "import", str(SHADOWFEN))
    assert result.exit_code == 0, result.output
    assert "imported lorebook 'shadowfen': 8 entries (1 constant)" in result.stdout

    listed = json.loads(invoke("lorebook", "list", "--json").stdout)
    assert [(b["name"], b["entries"], b["constant"]) for b in listed] == [("shadowfen", 8, 1)]
    assert listed[0]["source"] == str(SHADOWFEN.resolve())
    table = invoke("lorebook", "list").stdout
    assert "┃ name      ┃ entries ┃ constant ┃ source" in table
    assert "│ shadowfen │ 8       │ 1        │ /" in table

    shown = invoke("lorebook", "show", "shadowfen").stdout
    assert "Bridge toll bridge and_any: toll, coin" in shown
    assert "Kestrel's secret (disabled)" in shown and "Shadowfen (constant)" in shown
    record = json.loads(invoke("lorebook", "show", "Shadowfen", "--json").stdout)  # any case
    entries = {entry["comment"]: entry for entry in record["entries"]}
    assert entries["Bog by day"]["selective_logic"] == "not_any"
    assert entries["Bog by day"]["secondary_keys"] == ["night", "dark"]
    assert entries["Kestrel's secret"]["enabled"] is False
    assert entries["Drowned Archive"]["insertion_order"] == 50
    assert entries["Brücke"]["keys"] == ["/br(ü|ue)cke/i"]
    assert entries["Brücke"]["match_whole_words"] is True

    exported = invoke("lorebook", "export", "shadowfen")
    assert exported.exit_code == 0
    assert exported.stdout_bytes == SHADOWFEN.read_bytes()
    out = tmp_path / "out.json"
    assert invoke("lorebook", "export", "shadowfen", "-o", str(out)).exit_code == 0
    assert out.read_bytes() == SHADOWFEN.read_bytes()  # unknown fields, order, no newline
    assert_one_line_error(invoke("lorebook", "export", "shadowfen", "-o", str(out)), "--force")
    assert invoke("lorebook", "export", "shadowfen", "-o", str(out), "--force").exit_code == 0


def test_a_file_with_crlf_and_bom_comes_back_as_it_was(tmp_path: Path) -> None:
    raw = b"\xef\xbb\xbf" + SHADOWFEN.read_bytes().replace(b"\n", b"\r\n")
    source = tmp_path / "Windows Book.json"
    source.write_bytes(raw)
    assert invoke("lorebook", "import", str(source)).exit_code == 0
    assert invoke("lorebook", "export", "Windows Book").stdout_bytes == raw


def test_remove_deletes_both_files() -> None:
    invoke("lorebook", "import", str(SHADOWFEN), "--name", "fen")
    assert len(stored_files()) == 2
    result = invoke("lorebook", "remove", "fen")
    assert result.exit_code == 0 and "removed lorebook 'fen'" in result.stdout
    assert stored_files() == []
    assert_one_line_error(invoke("lorebook", "remove", "fen"), "unknown lorebook 'fen'")


def test_a_duplicate_name_is_refused_unless_replace(write_json: Any) -> None:
    assert invoke("lorebook", "import", str(SHADOWFEN)).exit_code == 0
    before = {name: (lorebooks_dir() / name).read_bytes() for name in stored_files()}
    smaller = write_json(world_info(entries={"0": {"key": ["x"], "content": "X."}}), "other.json")
    result = invoke("lorebook", "import", str(smaller), "--name", "SHADOWFEN")
    assert_one_line_error(result, "'shadowfen' exists", "--replace", "--name")
    assert {name: (lorebooks_dir() / name).read_bytes() for name in stored_files()} == before

    result = invoke("lorebook", "import", str(smaller), "--name", "SHADOWFEN", "--replace")
    assert result.exit_code == 0, result.output
    listed = json.loads(invoke("lorebook", "list", "--json").stdout)
    assert [(b["name"], b["entries"]) for b in listed] == [("SHADOWFEN", 1)]
    assert len(stored_files()) == 2  # the old files went with the old name
    assert invoke("lorebook", "export", "shadowfen").stdout_bytes == smaller.read_bytes()


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"this is not json", ["not JSON (line 1, column 1"]),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["a binary file"]),
        (b"\xff\xfe{}", ["not UTF-8"]),
        (b"[1, 2]", ["not World Info", "an array"]),
        (b'{"name": "x"}', ['no "entries" object']),
        (b'{"spec": "chara_card_v2", "data": {}}', ["a character card", "card import"]),
        (b'{"entries": [{"keys": ["a"]}]}', ['"entries" is a list']),
        (b'{"entries": {"0": "text"}}', ["entry '0'", "must be an object, not a string"]),
        (b'{"entries": {"7": {"key": "Kestrel"}}}', ["entry '7'", "key must be a list of"]),
        (b'{"entries": {"0": {"key": ["a", 3]}}}', ["an array holding a number"]),
        (b'{"entries": {"0": {"content": 5}}}', ["content must be text, not a number"]),
        (b'{"entries": {"0": {"constant": "yes"}}}', ["constant must be true or false"]),
        (b'{"entries": {"0": {"selectiveLogic": 9}}}', ["selectiveLogic must be 0, 1, 2 or 3"]),
        (b'{"entries": {"0": {"order": "first"}}}', ["order must be a whole number"]),
        (b'{"entries": {"0": {"key": ["/(a+)+(/"]}}}', ["entry '0'", "keys.0"]),
    ],
    ids=[
        "text",
        "binary",
        "not-utf8",
        "array",
        "no-entries",
        "card",
        "entries-list",
        "entry-string",
        "key-string",
        "key-number",
        "content-number",
        "constant-string",
        "logic-range",
        "order-text",
        "bad-regex",
    ],
)
def test_what_is_not_world_info_is_one_line_and_stores_nothing(
    content: bytes, fragments: list[str], tmp_path: Path
) -> None:
    source = tmp_path / "bad.json"
    source.write_bytes(content)
    assert_one_line_error(invoke("lorebook", "import", str(source)), str(source), *fragments)
    assert stored_files() == []


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    source = tmp_path / "huge.json"
    source.write_bytes(b'{"entries": {}, "pad": "' + b"x" * MAX_FILE_BYTES + b'"}')
    assert_one_line_error(invoke("lorebook", "import", str(source)), "too large", "5 MB")
    assert stored_files() == []
    with pytest.raises(RoleplayError, match="too large"):
        parse_world_info(source.read_bytes(), "huge")


def test_missing_file_and_folder(tmp_path: Path) -> None:
    assert_one_line_error(invoke("lorebook", "import", str(tmp_path / "no.json")), "no such file")
    assert_one_line_error(invoke("lorebook", "import", str(tmp_path)), "not a file")


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "/etc/passwd", "..", "a/b\\c", "Ünïcödé ☃ book", "CON"]
)
def test_names_never_become_paths(name: str) -> None:
    result = invoke("lorebook", "import", str(SHADOWFEN), "--name", name)
    assert result.exit_code == 0, result.output
    store = LorebookStore()
    [stored] = store.books()
    assert stored.name == name
    assert stored.path.parent == lorebooks_dir()
    assert all(char.isalnum() or char in "-." for char in stored.path.name)
    assert invoke("lorebook", "export", name).stdout_bytes == SHADOWFEN.read_bytes()
    assert not Path("/etc/passwd.json").exists() and not Path("/etc/passwd.meta.json").exists()


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("  ", "cannot be empty"),
        ("a,b", "has a comma"),
        ("x" * 101, "too long"),
        ("a\nb", "control"),
    ],
)
def test_bad_names_are_refused(name: str, fragment: str) -> None:
    assert_one_line_error(invoke("lorebook", "import", str(SHADOWFEN), "--name", name), fragment)
    assert stored_files() == []


def test_a_stored_book_keeps_fields_it_does_not_use() -> None:
    """The parsed view drops SillyTavern's position/depth/probability/...; the bytes keep them."""
    invoke("lorebook", "import", str(SHADOWFEN))
    exported = json.loads(invoke("lorebook", "export", "shadowfen").stdout_bytes)
    assert exported["entries"]["7"]["x_custom_tool"] == {"colour": "#3a5", "tags": ["bridge"]}
    assert exported["entries"]["6"]["position"] == 4 and exported["entries"]["6"]["depth"] == 2


def test_book_settings_come_from_original_data(write_json: Any) -> None:
    original = {"scan_depth": 5, "token_budget": 300, "recursive_scanning": True, "entries": []}
    book = parse_world_info(
        write_json(world_info(originalData=original)).read_bytes(), "b", name="b"
    )
    assert (book.scan_depth, book.token_budget, book.recursive_scanning) == (5, 300, True)
    wild = {"scan_depth": 0, "token_budget": "lots", "recursive_scanning": 1}
    book = parse_world_info(write_json(world_info(originalData=wild)).read_bytes(), "b")
    assert (book.scan_depth, book.token_budget, book.recursive_scanning) == (None, None, None)
