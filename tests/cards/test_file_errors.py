"""Files that are not a usable YAML card: each gives one located, one-line error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from roleplay.cards.loader import check_card, load_card
from roleplay.cards.yaml_reader import MAX_CARD_BYTES, MAX_DEPTH, MAX_LINES, MAX_NODES
from roleplay.errors import FileProblemsError, Problem
from tests.cards.conftest import VALID_CARD, WriteCard


def only_error(path: Path) -> Problem:
    check = check_card(path)
    assert check.card is None
    assert len(check.errors) == 1, check.errors
    problem = check.errors[0]
    assert problem.path == str(path)
    assert "\n" not in problem.message
    return problem


def at(problem: Problem) -> tuple[int, int]:
    return (problem.line, problem.column)


# --- the file itself -------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    problem = only_error(tmp_path / "nope.yaml")
    assert at(problem) == (1, 1)
    assert problem.message == "file not found"


def test_path_below_a_file(write_card: WriteCard) -> None:
    path = write_card(VALID_CARD)
    problem = only_error(path / "child.yaml")
    assert "file not found" in problem.message


def test_directory(tmp_path: Path) -> None:
    problem = only_error(tmp_path)
    assert at(problem) == (1, 1)
    assert "is a directory" in problem.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")
def test_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "card.yaml"
    os.mkfifo(fifo)  # opening it for reading would block forever
    assert only_error(fifo).message == "not a regular file"


def test_too_large_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # sparse: 5 GB on paper, nothing on disk
        handle.truncate(5_000_000_000)
    problem = only_error(path)
    assert at(problem) == (1, 1)
    assert "too large (5000.0 MB)" in problem.message
    assert "1 MB" in problem.message


def test_just_over_the_size_limit(write_card: WriteCard) -> None:
    path = write_card(b"#" * (MAX_CARD_BYTES + 1))
    assert "too large" in only_error(path).message


def test_too_many_lines(write_card: WriteCard) -> None:
    path = write_card("# filler\n" * (MAX_LINES + 1))
    problem = only_error(path)
    assert f"limited to {MAX_LINES}" in problem.message


@pytest.mark.parametrize("content", ["", "   \n\n\t\n"])
def test_empty_file(write_card: WriteCard, content: str) -> None:
    problem = only_error(write_card(content))
    assert at(problem) == (1, 1)
    assert problem.message.startswith("file is empty")


def test_only_comments(write_card: WriteCard) -> None:
    problem = only_error(write_card("# just a comment\n# and another\n"))
    assert "only comments" in problem.message


def test_binary_file(write_card: WriteCard) -> None:
    problem = only_error(write_card(b"name: x\nab\x00\x01\x02"))
    assert at(problem) == (2, 3)
    assert "binary file" in problem.message


def test_not_utf8(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ndescription: café\n".encode("latin-1")))
    assert at(problem) == (2, 17)
    assert "not valid UTF-8 (byte 0xe9)" in problem.message


def test_not_utf8_column_counts_characters(write_card: WriteCard) -> None:
    # "ü" is two bytes in UTF-8 but one column for the reader.
    problem = only_error(write_card("name: ü".encode() + b"\xff\n"))
    assert at(problem) == (1, 8)


def test_utf16(write_card: WriteCard) -> None:
    problem = only_error(write_card(VALID_CARD.encode("utf-16")))
    assert "UTF-16" in problem.message


def test_utf8_bom_is_accepted(write_card: WriteCard) -> None:
    check = check_card(write_card(b"\xef\xbb\xbf" + VALID_CARD.encode()))
    assert check.errors == []


def test_control_character(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ndescription: a\x07b\n"))
    assert at(problem) == (2, 15)
    assert "U+0007" in problem.message


# --- the YAML ---------------------------------------------------------------------------


def test_top_level_list(write_card: WriteCard) -> None:
    problem = only_error(write_card("# a list\n- name: x\n- description: y\n"))
    assert at(problem) == (2, 1)
    assert "top level must be a mapping" in problem.message
    assert problem.message.endswith("not a list")


def test_top_level_scalar(write_card: WriteCard) -> None:
    problem = only_error(write_card("just some text\n"))
    assert "top level must be a mapping" in problem.message
    assert problem.message.endswith("not a single value")


def test_unclosed_flow_sequence(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ntags: [a, b\ndescription: y\n"))
    assert at(problem) == (3, 12)
    assert problem.message.startswith("YAML syntax error:")


def test_tab_indentation_gets_a_hint(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\npersonality:\n\tbig_five: {}\n"))
    assert at(problem) == (3, 1)
    assert "indent with spaces, not tabs" in problem.message


def test_unquoted_colon_gets_a_hint(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ndescription: She says: hello\n"))
    assert at(problem) == (2, 22)  # the second ': '
    assert "mapping values are not allowed here" in problem.message
    assert "quotes" in problem.message


def test_unterminated_quote_names_where_it_started(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ndescription: 'never closed\ntags: []\n"))
    assert at(problem) == (4, 1)
    assert "started at line 2, column 14" in problem.message


def test_two_documents(write_card: WriteCard) -> None:
    problem = only_error(write_card(VALID_CARD + "---\nname: second\n"))
    assert at(problem) == (10, 1)
    assert "more than one YAML document" in problem.message


def test_billion_laughs_is_refused_at_the_first_anchor(write_card: WriteCard) -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in "bcdefghi":
        previous = chr(ord(level) - 1)
        lines.append(f"{level}: &{level} [" + ", ".join([f"*{previous}"] * 9) + "]")
    problem = only_error(write_card("\n".join(lines) + "\n"))
    assert at(problem) == (1, 4)
    assert "anchors and aliases" in problem.message


def test_merge_key_alias_is_refused_at_the_merge_key(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\nextensions:\n  <<: *base\n"))
    assert at(problem) == (3, 3)
    assert "merge keys" in problem.message


def test_merge_key_with_inline_mapping_is_refused(write_card: WriteCard) -> None:
    # Found by the fuzzer: merged keys have no line record, which used to crash locating.
    problem = only_error(write_card("name: x\npersonality:\n <<:\n    openness: 0.5\n"))
    assert at(problem) == (3, 2)
    assert "merge keys" in problem.message


def test_quoted_merge_key_is_just_an_unknown_field(write_card: WriteCard) -> None:
    problem = only_error(write_card(VALID_CARD + "'<<': y\n"))
    assert at(problem) == (VALID_CARD.count("\n") + 1, 1)
    assert "unknown field '<<'" in problem.message


def test_python_tag_is_refused(write_card: WriteCard) -> None:
    problem = only_error(write_card('name: !!python/object/apply:os.system ["echo hi"]\n'))
    assert at(problem) == (1, 7)
    assert "'!!python/object/apply:os.system' is not allowed" in problem.message


def test_custom_tag_is_refused(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: !secret x\n"))
    assert "'!secret' is not allowed" in problem.message


@pytest.mark.parametrize("key", ["[a, b]", "{a: {b: 1}}"])
def test_complex_keys_are_refused(write_card: WriteCard, key: str) -> None:
    problem = only_error(write_card(f"name: x\n? {key}\n: 1\n"))
    assert at(problem) == (2, 3)
    assert problem.message == "keys must be plain text, not lists or mappings"


def test_invalid_date_is_located(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: x\ngreeting: 2024-13-45\n"))
    assert at(problem) == (2, 11)
    assert "'2024-13-45' as a date" in problem.message
    assert "quotes" in problem.message


def test_bad_explicit_int(write_card: WriteCard) -> None:
    problem = only_error(write_card("name: !!int abc\n"))
    assert at(problem) == (1, 7)
    assert "as an integer" in problem.message


def test_deep_nesting(write_card: WriteCard) -> None:
    depth = 5_000  # ruamel's composer recurses; far past Python's limit of 1000 frames
    problem = only_error(write_card("extensions: " + "[" * depth + "]" * depth + "\n"))
    assert at(problem) == (1, 13 + MAX_DEPTH - 1)
    assert f"more than {MAX_DEPTH} levels" in problem.message


def test_too_many_values(write_card: WriteCard) -> None:
    problem = only_error(write_card("tags:\n" + "  - x\n" * (MAX_NODES + 5)))
    assert f"more than {MAX_NODES} YAML values" in problem.message


def test_duplicate_keys_are_all_reported(write_card: WriteCard) -> None:
    text = VALID_CARD + "name: Again\npersonality_typo: 1\ntags: [a]\ntags: [b]\n"
    check = check_card(write_card(text))
    assert check.card is None
    duplicates = [problem for problem in check.errors if "duplicate key" in problem.message]
    assert [(p.line, p.column, p.message) for p in duplicates] == [
        (10, 1, "duplicate key 'name' (first defined on line 1)"),
        (13, 1, "duplicate key 'tags' (first defined on line 12)"),
    ]


def test_duplicate_key_in_flow_mapping(write_card: WriteCard) -> None:
    text = VALID_CARD + "attributes: {warmth: 0.1, warmth: 0.2}\n"
    problem = only_error(write_card(text))
    assert at(problem) == (10, 27)
    assert problem.message == "duplicate key 'warmth' (first defined on line 10)"


def test_load_card_raises_with_every_problem(write_card: WriteCard) -> None:
    path = write_card("name: x\nname: y\n")
    with pytest.raises(FileProblemsError) as caught:
        load_card(path)
    problems = caught.value.problems
    assert len(problems) >= 3  # the duplicate plus the missing description and personality
    assert caught.value.message.splitlines() == [str(problem) for problem in problems]


def test_unexpected_parser_failure_is_one_line(
    write_card: WriteCard, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roleplay.cards import yaml_reader

    def explode(self: object, node: object) -> object:
        raise TypeError("unhashable type: 'CommentedMap'\nsecond line")

    monkeypatch.setattr(yaml_reader._CardConstructor, "construct_document", explode)
    problem = only_error(write_card(VALID_CARD))
    assert at(problem) == (1, 1)
    assert problem.message == (
        "cannot parse this YAML (TypeError: unhashable type: 'CommentedMap' second line)"
    )
