"""Attributes are data: bundled YAML, validated with located errors, extended by a drop-in."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.control.attributes import (
    BIG_FIVE,
    MIN_PAIRS,
    load_attribute_file,
    load_attributes,
    parse_attribute,
    user_attributes_dir,
)
from roleplay.errors import FileProblemsError

PAIR = "  - question: Q{i}?\n    positive: Yes {i}!\n    negative: No {i}.\n"


def attribute_yaml(name: str = "bravery", pairs: int = MIN_PAIRS) -> str:
    body = "".join(PAIR.format(i=i) for i in range(pairs))
    return f"name: {name}\npositive: brave\nnegative: timid\npairs:\n{body}"


def test_bundled_attributes_cover_big_five_sentiment_and_formality() -> None:
    specs = load_attributes()
    assert set(BIG_FIVE) | {"sentiment", "formality"} <= set(specs)
    for spec in specs.values():
        assert 12 <= len(spec.pairs) <= 20, spec.name
        assert all(p.positive != p.negative for p in spec.pairs)


def test_data_hash_follows_the_pairs(tmp_path: Path) -> None:
    original = parse_attribute(attribute_yaml(), tmp_path / "bravery.yaml")
    edited = parse_attribute(attribute_yaml().replace("Yes 0!", "Sure 0!"), tmp_path / "x.yaml")
    assert original.data_hash != edited.data_hash
    assert original.data_hash == parse_attribute(attribute_yaml(), tmp_path / "y.yaml").data_hash


def test_new_attribute_is_a_dropped_in_file(scratch_home: Path) -> None:
    folder = user_attributes_dir()
    folder.mkdir(parents=True)
    (folder / "bravery.yaml").write_text(attribute_yaml())
    specs = load_attributes()
    assert specs["bravery"].positive == "brave"
    assert "sentiment" in specs  # the bundled ones are still there


def test_yaml_syntax_error_has_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\npairs:\n  - question: What: is this\n")
    with pytest.raises(FileProblemsError) as caught:
        load_attribute_file(path)
    assert str(caught.value).startswith(f"{path}:3:")


def test_every_problem_is_reported_with_its_location(tmp_path: Path) -> None:
    text = attribute_yaml(pairs=2).replace("negative: No 1.", "negative: ''")
    with pytest.raises(FileProblemsError) as caught:
        parse_attribute(text.replace("positive: brave\n", ""), tmp_path / "b.yaml")
    messages = [p.message for p in caught.value.problems]
    assert "'positive' is missing" in messages
    assert "'negative' must be a non-empty text" in messages
    assert any("at least" in m for m in messages)
    assert all(p.line >= 1 for p in caught.value.problems)


def test_name_must_match_file(tmp_path: Path) -> None:
    path = tmp_path / "other.yaml"
    path.write_text(attribute_yaml("bravery"))
    with pytest.raises(FileProblemsError, match="must match the file name"):
        load_attribute_file(path)
