"""The profile store: supersession, history, isolation, edit/delete/forget, a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.errors import RoleplayError
from roleplay.profile.profile import UserProfile
from roleplay.profile.store import ProfileStore, default_profile_path


def _said(profile: UserProfile, *messages: str) -> None:
    for number, text in enumerate(messages, start=1):
        profile.observe_user_message(text, session_id="s1", message_id=number)


def _current(
    store: ProfileStore, user: str = "Lena", character: str = "Mira"
) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for fact in store.current(user, character):
        values.setdefault(fact.slot, []).append(fact.value)
    return values


def test_the_store_lives_in_the_home(store: ProfileStore, isolated_home: Path) -> None:
    assert store.path == default_profile_path() == isolated_home / "profile.sqlite3"
    assert store.path.is_file()


def test_a_move_supersedes_the_old_home_which_stays_history(store: ProfileStore) -> None:
    _said(UserProfile(store, "Lena", "Mira"), "I live in Bergen.", "I moved to Oslo!")
    [home] = [fact for fact in store.current("Lena", "Mira") if fact.slot == "home"]
    [old] = store.history("Lena", "Mira")
    assert (home.value, old.value) == ("Oslo", "Bergen")
    assert old.superseded_by == home.id and old.superseded_at is not None
    assert home.statement == "I moved to Oslo!" and home.session_id == "s1"
    assert home.message_id == 2 and home.source == "stated"


def test_a_negation_retires_and_a_new_diet_supersedes(store: ProfileStore) -> None:
    profile = UserProfile(store, "Lena", "Mira")
    _said(profile, "I'm vegetarian", "I'm not vegetarian anymore")
    assert "diet" not in _current(store)
    [retired] = store.history("Lena", "Mira")
    assert retired.value == "vegetarian" and retired.superseded_by is None
    _said(profile, "I'm vegan", "I eat meat now")
    assert _current(store)["diet"] == ["a meat eater"]
    assert [f.value for f in store.history("Lena", "Mira")] == ["vegetarian", "vegan"]


def test_a_negation_of_another_value_changes_nothing(store: ProfileStore) -> None:
    _said(UserProfile(store, "Lena", "Mira"), "I live in Oslo", "I don't live in Bergen anymore")
    assert _current(store)["home"] == ["Oslo"]


def test_likes_accumulate_and_move_to_dislikes(store: ProfileStore) -> None:
    profile = UserProfile(store, "Lena", "Mira")
    _said(profile, "I love jazz and I like hiking", "I love JAZZ")
    assert _current(store)["likes"] == ["jazz", "hiking"]  # the same value is kept once
    _said(profile, "I don't like jazz anymore")
    assert _current(store) == {"likes": ["hiking"], "dislikes": ["jazz"]}
    _said(profile, "I like jazz now")
    assert _current(store) == {"likes": ["hiking", "jazz"]}


def test_pets_are_keyed_by_the_animal(store: ProfileStore) -> None:
    _said(UserProfile(store, "Lena", "Mira"), "my cat is called Miso", "I have a dog named Rex")
    assert _current(store) == {"pet:cat": ["Miso"], "pet:dog": ["Rex"]}


def test_each_character_knows_only_what_it_was_told(store: ProfileStore) -> None:
    _said(UserProfile(store, "Lena", "Mira"), "I'm vegetarian")
    _said(UserProfile(store, "Lena", "Pip"), "I live in Oslo")
    _said(UserProfile(store, "Ann", "Mira"), "I'm vegan")
    assert _current(store, "Lena", "Mira") == {"diet": ["vegetarian"]}
    assert _current(store, "Lena", "Pip") == {"home": ["Oslo"]}
    assert _current(store, "Ann", "Mira") == {"diet": ["vegan"]}
    assert UserProfile(store, "Lena", "Sable").facts_for_turn("What's for dinner?") == []


def test_edit_keeps_the_old_value_as_history(store: ProfileStore) -> None:
    first = store.record("Lena", "Mira", "home", "Oslo", statement="I live in Oslo")
    edited = store.edit(first.id, "Oslo, Norway")
    assert edited.source == "edited" and edited.value == "Oslo, Norway"
    assert store.get(first.id).superseded_by == edited.id
    assert _current(store)["home"] == ["Oslo, Norway"]
    with pytest.raises(RoleplayError, match="history"):
        store.edit(first.id, "Bergen")


def test_delete_really_deletes(store: ProfileStore) -> None:
    old = store.record("Lena", "Mira", "home", "Bergen")
    new = store.record("Lena", "Mira", "home", "Oslo")
    store.delete(new.id)
    assert store.current("Lena", "Mira") == []
    assert store.get(old.id).superseded_by is None  # still history, pointing nowhere
    with pytest.raises(RoleplayError, match=f"unknown profile fact {new.id}"):
        store.get(new.id)


def test_forget_a_user_or_a_whole_character(store: ProfileStore) -> None:
    for user in ("Lena", "Ann"):
        for character in ("Mira", "Pip"):
            store.record(user, character, "diet", "vegan")
    assert store.forget("Lena", "Mira") == 1
    assert store.forget(None, "Pip") == 2
    assert [(f.user, f.character) for f in store.facts()] == [("Ann", "Mira")]
    with pytest.raises(RoleplayError):
        store.forget(None, None)


def test_unknown_slots_are_refused(store: ProfileStore) -> None:
    with pytest.raises(RoleplayError, match="unknown profile slot"):
        store.record("Lena", "Mira", "shoe_size", "42")
    with pytest.raises(RoleplayError, match="needs a key"):
        store.record("Lena", "Mira", "pet", "Miso")


def test_a_corrupt_file_is_one_line_and_left_as_it_was(isolated_home: Path) -> None:
    path = default_profile_path()
    path.parent.mkdir(parents=True)
    garbage = b"this is not a database, just text " * 200
    path.write_bytes(garbage)
    with pytest.raises(RoleplayError) as caught:
        ProfileStore()
    assert str(path) in caught.value.message and "\n" not in caught.value.message
    assert path.read_bytes() == garbage
    assert not Path(f"{path}-wal").exists()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profile.sqlite3"
    ProfileStore(path).close()
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA user_version = 99")
    with pytest.raises(RoleplayError, match="newer version"):
        ProfileStore(path)


def test_two_stores_share_the_file(tmp_path: Path) -> None:
    path = tmp_path / "profile.sqlite3"
    ProfileStore(path).record("Lena", "Mira", "home", "Bergen")
    ProfileStore(path).record("Lena", "Mira", "home", "Oslo")
    assert [f.value for f in ProfileStore(path).current("Lena", "Mira")] == ["Oslo"]
