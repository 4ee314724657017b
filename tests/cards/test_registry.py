"""Finding cards: bundled and user folders, names, paths and hostile input."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.cards.registry import (
    bundled_characters_dir,
    list_cards,
    resolve_card,
    user_characters_dir,
)
from roleplay.errors import RoleplayError
from tests.cards.conftest import VALID_CARD

BUNDLED_SLUGS = ["elias", "hana", "mira", "pip", "sable"]


def user_card(name: str, text: str = VALID_CARD) -> Path:
    folder = user_characters_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_folders(isolated_home: Path) -> None:
    assert bundled_characters_dir() == Path(__file__).resolve().parents[2] / "characters"
    assert user_characters_dir() == isolated_home / "characters"


def test_bundled_cards_are_listed() -> None:
    entries = list_cards()
    assert [entry.slug for entry in entries] == BUNDLED_SLUGS
    assert all(entry.source == "bundled" and entry.error is None for entry in entries)
    mira = next(entry for entry in entries if entry.slug == "mira")
    assert mira.name == "Captain Mira Voss"
    assert mira.path == bundled_characters_dir() / "mira.yaml"
    assert mira.card is not None and mira.card.personality.mbti == "ISTJ"


def test_user_cards_come_first_and_broken_ones_do_not_break_listing() -> None:
    user_card("zed.yaml")
    user_card("broken.yml", "name: [unclosed\n")
    user_card(".hidden.yaml")
    user_card("notes.txt", "not a card")
    (user_characters_dir() / "folder.yaml").mkdir()
    entries = list_cards()
    assert [(entry.slug, entry.source) for entry in entries[:2]] == [
        ("broken", "user"),
        ("zed", "user"),
    ]
    broken = entries[0]
    assert broken.card is None and broken.name == "broken"
    assert broken.error is not None and "YAML syntax error" in broken.error
    assert f"{broken.path}:2:1:" in broken.error
    assert [entry.slug for entry in entries[2:]] == BUNDLED_SLUGS


@pytest.mark.parametrize(
    "query", ["mira", "MIRA", "Mira.yaml", "captain mira voss", " Captain Mira Voss "]
)
def test_resolve_by_stem_or_name(query: str) -> None:
    assert resolve_card(query) == bundled_characters_dir() / "mira.yaml"


def test_an_existing_file_path_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("mira").write_text(VALID_CARD)
    assert resolve_card("mira") == Path("mira")
    assert resolve_card(str(tmp_path / "mira")) == tmp_path / "mira"


def test_user_card_shadows_bundled_by_stem() -> None:
    path = user_card("mira.yaml")
    assert resolve_card("mira") == path


def test_user_card_shadows_bundled_by_name() -> None:
    path = user_card("my-mira.yaml", VALID_CARD.replace("Test Card", "Captain Mira Voss"))
    assert resolve_card("Captain Mira Voss") == path


def test_unknown_name_suggests_a_close_one() -> None:
    with pytest.raises(RoleplayError) as caught:
        resolve_card("mria")
    message = caught.value.message
    assert message.startswith("unknown character 'mria' (did you mean 'mira'?)")
    assert "\n" not in message


def test_unknown_name_without_a_close_match() -> None:
    with pytest.raises(RoleplayError) as caught:
        resolve_card("gandalf")
    assert "did you mean" not in caught.value.message
    assert "roleplay characters" in caught.value.message


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "../secret",
        "../secret.yaml",
        "..\\secret",
        "characters/../secret",
        "a\x00b",
        "x" * 5000,
        "mira\nwith newline",
    ],
)
def test_names_never_escape_the_card_folders(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, isolated_home: Path
) -> None:
    # A card-shaped file right outside the user folder must stay out of reach.
    isolated_home.mkdir(parents=True, exist_ok=True)
    (isolated_home / "secret.yaml").write_text(VALID_CARD)
    user_card("ok.yaml")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    with pytest.raises(RoleplayError) as caught:
        resolve_card(name)
    assert "\n" not in caught.value.message
    assert len(caught.value.message) < 200


@pytest.mark.parametrize("name", ["", ".", "/"])
def test_directories_are_not_cards(name: str) -> None:
    with pytest.raises(RoleplayError) as caught:
        resolve_card(name)
    assert "is a directory" in caught.value.message


def test_resolved_broken_card_still_reports_its_problems() -> None:
    path = user_card("broken.yaml", "name: x\n")
    assert resolve_card("broken") == path
