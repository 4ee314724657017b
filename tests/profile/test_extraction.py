"""The statement patterns: what is recognised and what deliberately is not."""

from __future__ import annotations

import pytest

from roleplay.profile.extraction import extract_statements
from roleplay.profile.rules import load_rules


def _facts(text: str) -> list[tuple[str, str | None, str]]:
    return [(s.slot, s.value, s.polarity) for s in extract_statements(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm vegetarian", [("diet", "vegetarian", "stated")]),
        ("I am a vegan.", [("diet", "vegan", "stated")]),
        ("I\u2019m vegetarian now!", [("diet", "vegetarian", "stated")]),
        ("I eat meat now", [("diet", "a meat eater", "stated")]),
        ("I moved to Oslo", [("home", "Oslo", "stated")]),
        ("I've moved to Oslo last year!", [("home", "Oslo", "stated")]),
        ("I have just moved to new york.", [("home", "new york", "stated")]),
        ("I live in Bergen with my wife", [("home", "Bergen", "stated")]),
        ("Well, I'm based in Trondheim", [("home", "Trondheim", "stated")]),
        ("I'm originally from Norway", [("origin", "Norway", "stated")]),
        ("I work as a nurse at the hospital", [("job", "nurse", "stated")]),
        ("Hi, I'm a nurse.", [("job", "nurse", "stated")]),
        ("my job is teaching", [("job", "teaching", "stated")]),
        ("I work at Google as an engineer", [("workplace", "Google", "stated")]),
        ("call me Lena", [("nickname", "Lena", "stated")]),
        ("My name is Lena Berg.", [("name", "Lena Berg", "stated")]),
        ("my name's Lena", [("name", "Lena", "stated")]),
        ("I'm 34 years old", [("age", "34", "stated")]),
        ("I am 34.", [("age", "34", "stated")]),
        ("I just turned 30", [("age", "30", "stated")]),
        ("my cat is called Miso", [("pet:cat", "Miso", "stated")]),
        ("My dog's name is Rex", [("pet:dog", "Rex", "stated")]),
        ("I love jazz", [("likes", "jazz", "stated")]),
        (
            "I love jazz, blues and rock",
            [
                ("likes", "jazz", "stated"),
                ("likes", "blues", "stated"),
                ("likes", "rock", "stated"),
            ],
        ),
        ("I'm a big fan of jazz", [("likes", "jazz", "stated")]),
        ("I like to cook", [("likes", "to cook", "stated")]),
        ("I hate mornings", [("dislikes", "mornings", "stated")]),
        ("I don't like jazz anymore", [("dislikes", "jazz", "stated")]),
        (
            "my hobbies are knitting, chess and running",
            [
                ("hobbies", "knitting", "stated"),
                ("hobbies", "chess", "stated"),
                ("hobbies", "running", "stated"),
            ],
        ),
        ("I'm allergic to peanuts", [("allergies", "peanuts", "stated")]),
        ("I'm married", [("relationship", "married", "stated")]),
        ("My favourite food is sushi", [("favourite:food", "sushi", "stated")]),
        ("*smiles* I'm vegan", [("diet", "vegan", "stated")]),
        (
            "I have a dog named Rex and I love jazz",
            [("pet:dog", "Rex", "stated"), ("likes", "jazz", "stated")],
        ),
        ("I'm vegan and my sister is vegetarian", [("diet", "vegan", "stated")]),
        ("I'm vegetarian, would you cook for me?", [("diet", "vegetarian", "stated")]),
    ],
)
def test_first_person_statements_are_extracted(
    text: str, expected: list[tuple[str, str, str]]
) -> None:
    assert _facts(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I'm not vegetarian anymore", [("diet", "vegetarian", "negated")]),
        ("I'm no longer vegan", [("diet", "vegan", "negated")]),
        ("I stopped being vegetarian", [("diet", "vegetarian", "negated")]),
        ("I don't live in Bergen anymore", [("home", "Bergen", "negated")]),
        ("I quit my job", [("job", None, "negated")]),
        ("my dog Rex died", [("pet:dog", None, "negated")]),
        ("I don't hate mornings anymore", [("dislikes", "mornings", "negated")]),
    ],
)
def test_negations_retire(text: str, expected: list[tuple[str, str | None, str]]) -> None:
    assert _facts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Am I vegetarian?",
        "Do you live in Oslo?",
        "I live in Oslo?",
        "Are you vegetarian",
        "if I lived in Oslo",
        "If I lived in Oslo, I'd be happy",
        "I wish I lived in Oslo",
        "I'd like a coffee",
        "I'm going to move to Oslo",
        "I used to live in Bergen",
        "Maybe I'm vegetarian",
        "my sister is vegetarian",
        "My sister lives in Oslo",
        "She says I'm vegan",
        "my sister's cat is called Miso",
        '"I live in Oslo," he said',
        "I love you",
        "I like it",
        "call me later",
        "I'm so tired",
        "I'm sorry",
        "",
    ],
)
def test_questions_hypotheticals_and_others_are_not_facts(text: str) -> None:
    assert extract_statements(text) == []


def test_the_statement_keeps_the_users_words() -> None:
    [statement] = extract_statements("Oh, and I moved to Oslo!")
    assert statement.text == "I moved to Oslo!"


def test_every_pattern_names_a_known_slot() -> None:
    rules = load_rules()
    assert rules.patterns
    assert {p.spec.slot for p in rules.patterns} <= set(rules.slots)
