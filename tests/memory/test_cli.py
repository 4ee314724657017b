"""`roleplay memory ...`: exit codes, JSON shapes and one-line errors, local and server."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from roleplay.cards.model import EMOTIONS
from roleplay.cli.memory_commands import memory_app
from roleplay.memory import chroma_client
from roleplay.memory.chroma_client import forget_clients
from tests.memory.conftest import LIGHTHOUSE_MEMORIES, write_card

runner = CliRunner()


def invoke(*args: str, chroma_url: str | None = None, stdin: str | None = None):
    extra = ["--chroma-url", chroma_url] if chroma_url else []
    return runner.invoke(memory_app, [*args, *extra], input=stdin)


def assert_one_line_error(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines
    assert message in lines[0]
    assert "Traceback" not in result.output


@pytest.fixture
def card(tmp_path: Path, character_name: str) -> str:
    return str(write_card(tmp_path, character_name, LIGHTHOUSE_MEMORIES))


def listed(card: str, chroma_url: str | None = None) -> list[dict[str, object]]:
    result = invoke("list", card, "--json", chroma_url=chroma_url)
    assert result.exit_code == 0, result.output
    records: list[dict[str, object]] = json.loads(result.stdout)
    return records


def test_add_then_search_json(card: str, chroma_url: str | None) -> None:
    added = invoke("add", card, "The foghorn sounded twice.", "--json", chroma_url=chroma_url)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout)["id"].startswith("note-")

    result = invoke(
        "search",
        card,
        "Do you remember the lighthouse?",
        "--mood",
        "I'm terrified, someone is following me.",
        "--k",
        "3",
        "--json",
        chroma_url=chroma_url,
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 3
    for hit in hits:
        assert set(hit) == {"id", "text", "score", "emotion"}
        assert list(hit["emotion"]) == list(EMOTIONS)
    assert [hit["score"] for hit in hits] == sorted((hit["score"] for hit in hits), reverse=True)
    assert "terrified" in hits[0]["text"]


@pytest.mark.parametrize("strategy", ["semantic", "c-a", "c-m", "s-c", "s-s"])
def test_search_with_explicit_emotion(card: str, strategy: str) -> None:
    result = invoke(
        "search", card, "the lighthouse", "--strategy", strategy, "--emotion", "sadness=1", "--json"
    )
    assert result.exit_code == 0, result.output
    hits = json.loads(result.stdout)
    assert len(hits) == 4
    # s-s takes the 5 emotionally closest memories first: here all four, so its final
    # (semantic) order ignores the mood, like plain semantic search.
    if strategy in ("c-a", "c-m", "s-c"):
        assert "cried" in hits[0]["text"]


def test_add_with_emotion_and_table_output(card: str) -> None:
    result = invoke("add", card, "The lamp was polished.", "--emotion", "joy=0.8,trust=0.3")
    assert result.exit_code == 0, result.output
    assert "remembered note-" in result.stdout
    (note,) = [r for r in listed(card) if r["kind"] == "note"]
    assert note["emotion"] == {**dict.fromkeys(EMOTIONS, 0.0), "joy": 0.8, "trust": 0.3}
    table = invoke("search", card, "the lamp", "--k", "2")
    assert table.exit_code == 0 and "polished" in table.stdout


def test_search_one_pool(card: str) -> None:
    assert invoke("add", card, "The foghorn sounded twice.").exit_code == 0
    own = invoke("search", card, "the foghorn", "--pool", "character", "--k", "10", "--json")
    assert own.exit_code == 0, own.output
    assert len(json.loads(own.stdout)) == 5  # the card's four and the note
    said = invoke("search", card, "the foghorn", "--pool", "user", "--json")
    assert said.exit_code == 0, said.output
    assert json.loads(said.stdout) == []  # nothing the user said yet


def test_add_reads_stdin(card: str) -> None:
    result = invoke("add", card, "-", "--json", stdin="A gull stole my sandwich.\n")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["text"].startswith("A gull stole my sandwich.")


def test_list_export_forget(card: str, chroma_url: str | None, tmp_path: Path) -> None:
    invoke("add", card, "The foghorn sounded twice.", chroma_url=chroma_url)
    records = listed(card, chroma_url)
    assert len(records) == 5  # the four seeds and the note
    assert all({"id", "text", "emotion", "kind", "timestamp"} <= set(r) for r in records)

    exported = invoke("export", card, chroma_url=chroma_url)
    assert exported.exit_code == 0
    lines = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [line["id"] for line in lines] == [r["id"] for r in records]
    target = tmp_path / "memories.jsonl"
    to_file = invoke("export", card, "--output", str(target), "--json", chroma_url=chroma_url)
    assert json.loads(to_file.stdout) == {"path": str(target), "count": 5}
    assert len(target.read_text(encoding="utf-8").splitlines()) == 5

    first = str(records[0]["id"])
    declined = runner.invoke(memory_app, ["forget", card, first, *_url(chroma_url)], input="n\n")
    assert declined.exit_code == 1
    assert len(listed(card, chroma_url)) == 5
    forgot = invoke("forget", card, first, "--yes", "--json", chroma_url=chroma_url)
    assert forgot.exit_code == 0, forgot.output
    assert json.loads(forgot.stdout) == {"forgotten": [first]}
    assert first not in [r["id"] for r in listed(card, chroma_url)]

    confirmed = runner.invoke(memory_app, ["forget", card, "--all", *_url(chroma_url)], input="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert listed(card, chroma_url) == []


def _url(chroma_url: str | None) -> list[str]:
    return ["--chroma-url", chroma_url] if chroma_url else []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "{card}", ""], "memory text is empty"),
        (["add", "{card}", "x" * 1_000_000], "too long"),
        (["add", "{card}", "ok", "--emotion", "happiness=1"], "unknown emotion 'happiness'"),
        (["add", "{card}", "ok", "--emotion", "joy=1.5"], "between 0 and 1"),
        (["add", "{card}", "ok", "--emotion", "joy"], "expected NAME=VALUE"),
        (["search", "{card}", "q", "--strategy", "best"], "unknown memory strategy 'best'"),
        (["search", "{card}", "q", "--k", "0"], "1..100"),
        (["search", "{card}", ""], "the query is empty"),
        (["search", "{card}", "q", "--mood", "m", "--emotion", "joy=1"], "not both"),
        (["search", "{card}", "q", "--emotion", "joy=2"], "between 0 and 1"),
        (["search", "{card}", "q", "--pool", "friends"], "unknown --pool 'friends'"),
        (["forget", "{card}"], "or --all"),
        (["forget", "{card}", "nope", "--yes"], "no memory with id nope"),
        (["list", "no-such-character-anywhere"], "no-such-character-anywhere"),
        (["list", "{card}", "--chroma-url", "ftp://example.org"], "bad Chroma server URL"),
        (["list", "{card}", "--chroma-url", "http://127.0.0.1:9"], "could not reach"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(card: str, args: list[str], message: str) -> None:
    invoke("add", card, "Something to keep.")
    before = listed(card)
    result = invoke(*[arg.replace("{card}", card) for arg in args])
    assert_one_line_error(result, message)
    assert listed(card) == before


def test_corrupted_store(card: str, memory_home: Path) -> None:
    invoke("add", card, "Something to keep.")
    database = memory_home / "memory" / "chroma.sqlite3"
    garbage = b"this is not a database" * 100
    database.write_bytes(garbage)
    forget_clients()  # as in a fresh process
    assert_one_line_error(invoke("list", card), "corrupted")
    assert_one_line_error(invoke("add", card, "More."), "corrupted")
    assert database.read_bytes() == garbage  # left for the user to inspect or restore


def test_locked_store(card: str, memory_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    invoke("add", card, "Something to keep.")
    before = listed(card)
    monkeypatch.setattr(chroma_client, "LOCK_WAIT_SECONDS", 0.2)
    forget_clients()
    holder = sqlite3.connect(memory_home / "memory" / "chroma.sqlite3", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        assert_one_line_error(invoke("add", card, "More."), "locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    forget_clients()
    assert listed(card) == before


def test_memory_folder_that_is_a_file(card: str, memory_home: Path) -> None:
    memory_home.mkdir(parents=True, exist_ok=True)
    (memory_home / "memory").write_text("not a folder")
    assert_one_line_error(invoke("list", card), "is not a folder")
