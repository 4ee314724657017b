"""`roleplay profile ...` through the real typer app."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from roleplay.cli.main import app
from roleplay.profile.profile import UserProfile
from roleplay.profile.store import ProfileStore

runner = CliRunner()


def _invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _told(character: str, user: str, *messages: str) -> None:
    store = ProfileStore()
    profile = UserProfile(store, user, character)
    for number, text in enumerate(messages, start=1):
        profile.observe_user_message(text, session_id="s1", message_id=number)
    store.close()


def test_list_json_current_and_history() -> None:
    _told("Captain Mira Voss", "Lena", "I live in Bergen.", "I moved to Oslo.")
    _told("Pip Marigold", "Lena", "I'm vegan.")
    code, out, err = _invoke("profile", "list", "--character", "mira", "--json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["character"], r["slot"], r["value"], r["current"]) for r in rows] == [
        ("Captain Mira Voss", "home", "Oslo", True)
    ]
    code, out, err = _invoke("profile", "list", "--history", "--json")
    assert code == 0, err
    assert [r["value"] for r in json.loads(out)] == ["Bergen", "Oslo", "vegan"]
    code, out, err = _invoke("profile", "list", "--history")
    assert code == 0, err
    assert "Bergen" in out and "Oslo" in out and "superseded" in out


def test_add_edit_delete() -> None:
    code, out, err = _invoke(
        "profile",
        "add",
        "--character",
        "mira",
        "--user",
        "Lena",
        "--slot",
        "diet",
        "--value",
        "vegetarian",
    )
    assert code == 0, err
    assert "Lena is vegetarian" in out
    [fact] = ProfileStore().current("Lena", "Captain Mira Voss")
    assert fact.source == "added"
    code, out, err = _invoke("profile", "edit", str(fact.id), "--value", "vegan")
    assert code == 0, err
    [edited] = ProfileStore().current("Lena", "Captain Mira Voss")
    assert edited.value == "vegan" and edited.source == "edited"
    code, out, err = _invoke("profile", "delete", str(edited.id))
    assert code == 0, err
    assert ProfileStore().current("Lena", "Captain Mira Voss") == []
    assert [f.value for f in ProfileStore().history("Lena", "Captain Mira Voss")] == ["vegetarian"]


def test_forget_needs_yes_and_removes_everything() -> None:
    _told("Captain Mira Voss", "Lena", "I live in Bergen.", "I moved to Oslo.")
    _told("Captain Mira Voss", "Ann", "I'm vegan.")
    code, out, err = _invoke(
        "profile", "forget", "--character", "Captain Mira Voss", "--user", "Lena", "--yes"
    )
    assert code == 0, err
    assert "forgot 2 facts" in out
    assert [f.user for f in ProfileStore().facts(include_history=True)] == ["Ann"]
    refused = runner.invoke(app, ["profile", "forget", "--character", "mira"], input="n\n")
    assert refused.exit_code == 1
    assert len(ProfileStore().facts()) == 1


def test_unknown_ids_and_names_are_one_line_errors() -> None:
    _told("Captain Mira Voss", "Lena", "I'm vegan.")
    for args in (
        ("profile", "edit", "999", "--value", "x"),
        ("profile", "delete", "999"),
        ("profile", "list", "--character", "nobody-at-all"),
        ("profile", "list", "--user", "Zed"),
        ("profile", "forget", "--character", "mira", "--user", "Zed", "--yes"),
        (
            "profile",
            "add",
            "--character",
            "mira",
            "--user",
            "Lena",
            "--slot",
            "shoe",
            "--value",
            "42",
        ),
    ):
        code, _, err = _invoke(*args)
        assert code == 2, args
        assert err.startswith("error: ") and err.count("\n") == 1, (args, err)


def test_list_with_nothing_kept() -> None:
    code, out, err = _invoke("profile", "list")
    assert code == 0, err
    assert "Nothing is kept yet" in out
    code, out, _ = _invoke("profile", "list", "--json")
    assert json.loads(out) == []
