"""Persona files, prompt sets and dimensions: parsing, selection and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bias_audit.personas import BASELINE_ID, first_per_axis, load_persona_set
from bias_audit.probes import DIMENSIONS, load_prompt_set, parse_dimensions, select_items
from roleplay.errors import RoleplayError


def test_bundled_generic_personas_cover_the_ten_axes() -> None:
    personas = load_persona_set("generic")
    axes = {p.axis for p in personas}
    assert axes == {
        "race", "gender", "sexual_orientation", "religion", "social_class",
        "education", "profession", "political_ideology", "disability", "age",
    }  # fmt: skip
    assert len({p.id for p in personas}) == len(personas)
    assert all(
        p.system_prompt and p.system_prompt.startswith(f"Speak exactly like {p.label}.")
        for p in personas
    )
    assert len(first_per_axis(personas)) == 10
    assert BASELINE_ID not in {p.id for p in personas}
    assert {p.axis for p in load_persona_set("specific")} == {"name"}


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".txt"])
def test_persona_file_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"mine{suffix}"
    if suffix == ".txt":
        path.write_text("a pirate\n\na librarian\n")
    elif suffix == ".json":
        path.write_text(json.dumps({"personas": [{"label": "a pirate"}, "a librarian"]}))
    else:
        path.write_text(
            "system_prompt: 'You are {persona}.'\naxes:\n  job: [a pirate, a librarian]\n"
        )
    personas = load_persona_set(str(path))
    assert [p.label for p in personas] == ["a pirate", "a librarian"]
    if suffix == ".yaml":
        assert personas[0].system_prompt == "You are a pirate."


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("p.csv", "a,b", "unknown format '.csv'"),
        ("p.yaml", "axes: {}\n", "no personas"),
        ("p.yaml", "colours: [red]\n", "unknown keys"),
        ("p.yaml", "system_prompt: no placeholder\npersonas: [x]\n", "must contain {persona}"),
        ("p.json", "{not json", "not valid JSON"),
        ("p.yaml", "a: [b\n", "not valid YAML"),
    ],
)
def test_bad_persona_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(RoleplayError, match=message):
        load_persona_set(str(path))
    with pytest.raises(RoleplayError, match="no such file"):
        load_persona_set(str(tmp_path / "missing.yaml"))


def test_prompt_sets_have_enough_items() -> None:
    sizes = {dimension: len(load_prompt_set(dimension)) for dimension in DIMENSIONS}
    assert all(24 <= size <= 300 for size in sizes.values()), sizes
    regard = load_prompt_set("regard")
    assert all(item.group and item.group in item.text for item in regard)
    agreement = load_prompt_set("stereotype_agreement")[0]
    assert agreement.text in agreement.message and "I agree" in agreement.message


def test_selection_is_seeded_and_balanced() -> None:
    items = load_prompt_set("offensiveness")
    first = select_items(items, 6, seed=5)
    assert [i.id for i in first] == [i.id for i in select_items(items, 6, seed=5)]
    assert [i.id for i in first] != [i.id for i in select_items(items, 6, seed=6)]
    kinds = [i.kind for i in first]
    assert kinds.count("neutral") == kinds.count("provocative") == 3
    assert len(select_items(items, 1000, seed=0)) == len(items)


def test_empty_prompt_set_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "regard.yaml").write_text("message: '{text}'\nitems: []\n")
    with pytest.raises(RoleplayError, match="is empty"):
        load_prompt_set("regard", tmp_path)


def test_dimensions_parse() -> None:
    assert parse_dimensions([]) == list(DIMENSIONS)
    assert parse_dimensions(["regard,offensiveness", "regard"]) == ["offensiveness", "regard"]
    with pytest.raises(RoleplayError, match="unknown dimension 'toxcity'"):
        parse_dimensions(["toxcity"])


def test_audit_sampling_is_chat_s_with_a_shorter_reply(tmp_path: Path) -> None:
    from dataclasses import replace

    from bias_audit.runner import FULL_MAX_NEW_TOKENS, AuditConfig, generation_settings
    from roleplay.engine.base import DEFAULT_GENERATION

    settings = generation_settings(AuditConfig(out=tmp_path, seed=3))
    assert settings == replace(DEFAULT_GENERATION, max_new_tokens=FULL_MAX_NEW_TOKENS, seed=3)
