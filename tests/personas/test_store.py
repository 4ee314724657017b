"""The persona store: one YAML file per persona under <home>/personas, an active pointer,
names unique ignoring case, never a path outside the folder, whole-or-nothing writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay import atomic_files
from roleplay.cards.model import BigFive
from roleplay.errors import RoleplayError
from roleplay.personas.model import Persona, parse_big_five
from roleplay.personas.store import (
    active_persona,
    add_persona,
    clear_active_persona,
    edit_persona,
    find_persona,
    get_persona,
    list_personas,
    persona_slug,
    persona_to_yaml,
    personas_dir,
    read_persona_file,
    remove_persona,
    resolve_persona,
    use_persona,
)

SCORES = {
    "openness": 0.8,
    "conscientiousness": 0.4,
    "extraversion": 0.3,
    "agreeableness": 0.7,
    "neuroticism": 0.2,
}


def files() -> list[str]:
    folder = personas_dir()
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def persona_file(name: str) -> Path:
    return personas_dir() / f"{persona_slug(name)}.yaml"


def test_round_trip_keeps_every_field() -> None:
    description = "A night-owl student.\nLikes old maps and strong tea — and “quotes”."
    added = add_persona("Alex", description, big_five=SCORES, mbti="infp")
    assert added.mbti == "INFP" and added.big_five == BigFive(**SCORES)
    assert files() == [persona_file("Alex").name]
    assert persona_file("Alex").read_text(encoding="utf-8").count("\n") < 12  # readable YAML
    assert get_persona("alex") == added == get_persona("  ALEX ")
    assert list_personas() == [added]
    assert read_persona_file(persona_file("Alex")) == added


def test_odd_text_round_trips_exactly() -> None:
    description = "tab\there, NEL \x85 and LS \u2028 too\n  indented line  \nend"
    added = add_persona("Zoë 🙂", description)
    assert get_persona("zoë 🙂") == added
    assert get_persona("Zoë 🙂").description == description.strip()


def test_names_are_unique_ignoring_case() -> None:
    add_persona("Alex", "first")
    with pytest.raises(RoleplayError, match="a persona named 'Alex' exists") as caught:
        add_persona("ALEX", "second")
    assert "\n" not in caught.value.message
    assert get_persona("alex").description == "first"
    assert len(files()) == 1


def test_unknown_name_lists_the_known_ones() -> None:
    add_persona("Alex")
    add_persona("Bea")
    with pytest.raises(RoleplayError) as caught:
        get_persona("Carol")
    message = caught.value.message
    assert "unknown persona 'Carol'" in message and "'Alex', 'Bea'" in message
    assert "\n" not in message
    assert find_persona("Carol") is None


def test_invalid_fields_are_one_line_errors() -> None:
    for name, fields, fragment in [
        ("", {}, "cannot be empty"),
        ("x" * 65, {}, "at most 64 characters"),
        ("two\nlines", {}, "one line"),
        ("ok", {"big_five": {**SCORES, "openness": 1.5}}, "big_five.openness"),
        ("ok", {"mbti": "ABCD"}, "16 MBTI types"),
        ("ok", {"description": "x" * 4001}, "at most 4000"),
    ]:
        with pytest.raises(RoleplayError, match=fragment) as caught:
            add_persona(name, **fields)  # type: ignore[arg-type]
        assert "\n" not in caught.value.message
    assert files() == []


def test_rename_moves_the_file_and_keeps_it_active() -> None:
    first = add_persona("Alex", "student", big_five=SCORES, use=True)
    renamed = edit_persona("alex", name="Alexandra", description="graduate")
    assert renamed.name == "Alexandra" and renamed.description == "graduate"
    assert renamed.created_at == first.created_at and renamed.updated_at >= first.updated_at
    assert renamed.big_five == first.big_five
    assert files() == sorted(["active", persona_file("Alexandra").name])
    assert active_persona() == renamed
    with pytest.raises(RoleplayError, match="unknown persona 'Alex'"):
        get_persona("Alex")


def test_rename_to_another_case_keeps_the_file() -> None:
    add_persona("alex", use=True)
    renamed = edit_persona("ALEX", name="Alex")
    assert renamed.name == "Alex" and active_persona() == renamed
    assert files() == sorted(["active", persona_file("Alex").name])


def test_rename_onto_another_persona_is_refused() -> None:
    add_persona("Alex")
    add_persona("Bea", "keep me")
    with pytest.raises(RoleplayError, match="cannot rename to 'bea': that persona exists"):
        edit_persona("Alex", name="bea")
    assert get_persona("Bea").description == "keep me" and get_persona("Alex").name == "Alex"


def test_edit_clears_and_refuses_unknown_fields() -> None:
    add_persona("Alex", big_five=SCORES, mbti="INFP")
    cleared = edit_persona("Alex", big_five=None, mbti=None)
    assert cleared.big_five is None and cleared.mbti is None
    with_scores = edit_persona("Alex", big_five=BigFive(**SCORES))
    assert with_scores.big_five == BigFive(**SCORES)
    with pytest.raises(RoleplayError, match="cannot edit created_at"):
        edit_persona("Alex", created_at="2020-01-01T00:00:00Z")


def test_active_pointer_use_resolve_and_remove() -> None:
    assert active_persona() is None and resolve_persona(None) is None
    alex = add_persona("Alex")
    bea = add_persona("Bea", use=True)
    assert active_persona() == bea
    assert (personas_dir() / "active").read_text() == persona_slug("Bea") + "\n"
    assert use_persona("alex") == alex and active_persona() == alex
    assert resolve_persona(None) == alex and resolve_persona("bea") == bea
    with pytest.raises(RoleplayError, match="unknown persona 'Carol'"):
        resolve_persona("Carol")
    remove_persona("Bea")  # not the active one: the pointer stays
    assert active_persona() == alex
    removed = remove_persona("ALEX")
    assert removed == alex and active_persona() is None
    assert files() == []
    clear_active_persona()  # nothing to clear is fine


def test_a_broken_or_dangling_pointer_means_none_active() -> None:
    add_persona("Alex", use=True)
    (personas_dir() / "active").write_text("../../etc/passwd\n")
    assert active_persona() is None
    (personas_dir() / "active").write_text("nobody-12345678\n")
    assert active_persona() is None


def test_names_never_become_paths_outside_the_folder(isolated_home: Path) -> None:
    names = ["../../etc", "..", "/etc/passwd", "a/b\\c", "~root", ".hidden", "NUL"]
    for name in names:
        add_persona(name, f"I am {name}")
    folder = personas_dir()
    for path in folder.iterdir():
        assert path.parent == folder and not path.name.startswith(".")
    assert sorted(p.relative_to(isolated_home).parts[0] for p in isolated_home.rglob("*")) == [
        "personas"
    ] * (len(names) + 1)
    for name in names:
        assert get_persona(name).description == f"I am {name}"
    assert len(list_personas()) == len(names)


def test_a_corrupt_file_is_named_and_never_destroyed() -> None:
    add_persona("Bea", "fine")
    broken = persona_file("Alex")
    broken.write_text("name: [unclosed\n", encoding="utf-8")
    for call in (lambda: get_persona("Alex"), list_personas, lambda: add_persona("alex")):
        with pytest.raises(RoleplayError) as caught:
            call()
        assert str(broken) in caught.value.message and "\n" not in caught.value.message
        assert "not a persona file (line 2" in caught.value.message
    assert broken.read_text(encoding="utf-8") == "name: [unclosed\n"
    # Everything else still works, and the broken file is left as it was.
    add_persona("Carol")
    assert get_persona("bea").description == "fine"
    edit_persona("Bea", name="Beatrice")
    remove_persona("Carol")
    assert broken.read_text(encoding="utf-8") == "name: [unclosed\n"
    with pytest.raises(RoleplayError, match="known: 'Beatrice'"):
        get_persona("Dan")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("- a\n- list\n", "not a persona file (expected name: ..."),
        ("name: Alex\nage: 3\n", "age: Extra inputs are not permitted"),
        ("\x00\x01binary", "not a persona file"),
        ("name: Alex\nbig_five: {openness: yes}\n", "big_five.openness"),
    ],
)
def test_files_that_are_not_personas_are_one_line_errors(text: str, fragment: str) -> None:
    path = persona_file("Alex")
    path.parent.mkdir(parents=True)
    path.write_bytes(text.encode("utf-8"))
    with pytest.raises(RoleplayError) as caught:
        get_persona("Alex")
    assert caught.value.message.startswith(str(path)) and fragment in caught.value.message
    assert "\n" not in caught.value.message


def test_a_failed_write_leaves_the_old_file_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    add_persona("Alex", "before", use=True)
    before = persona_file("Alex").read_bytes()

    def fail(source: object, target: object) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(atomic_files.os, "replace", fail)
        with pytest.raises(RoleplayError, match="No space left on device"):
            edit_persona("Alex", description="after")
        with pytest.raises(RoleplayError):
            edit_persona("Alex", name="Alexandra")  # a rename: the old file stays
        with pytest.raises(RoleplayError):
            use_persona("Alex")
    assert persona_file("Alex").read_bytes() == before
    assert files() == sorted(["active", persona_file("Alex").name])  # no temporary left
    assert get_persona("Alex").description == "before" and active_persona() is not None


def test_written_yaml_reads_back() -> None:
    persona = Persona(name="Alex", description="one\ntwo", big_five=BigFive(**SCORES))
    text = persona_to_yaml(persona)
    assert "description: |-" in text and "big_five: {openness: 0.8" in text


def test_parse_big_five() -> None:
    expected = BigFive(**SCORES)
    assert parse_big_five("0.8,0.4,0.3,0.7,0.2") == expected
    assert parse_big_five("n=0.2, a=0.7, E=0.3, consc=0.4, openness=0.8") == expected
    for text, fragment in [
        ("0.8,0.4", "five scores"),
        ("o=0.8,0.4,0.3,0.7,0.2", "all as trait=score"),
        ("o=0.8,c=0.4,e=0.3,a=0.7", "missing neuroticism"),
        ("o=0.8,o=0.4,e=0.3,a=0.7,n=0.2", "openness given twice"),
        ("x=0.8,c=0.4,e=0.3,a=0.7,n=0.2", "unknown trait 'x'"),
        ("80,40,30,70,20", "outside 0 to 1"),
        ("0.8,high,0.3,0.7,0.2", "'high' is not a number"),
        ("nan,0.4,0.3,0.7,0.2", "outside 0 to 1"),
    ]:
        with pytest.raises(ValueError, match=fragment):
            parse_big_five(text)
