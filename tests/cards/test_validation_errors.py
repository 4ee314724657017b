"""Schema errors: each pydantic error is located in the file and worded for humans."""

from __future__ import annotations

from typing import get_origin

import pytest

from roleplay.cards.diagnostics import ANY, EXPECTED, MODELS, dotted, expected_for
from roleplay.cards.loader import check_card
from roleplay.errors import Problem
from tests.cards.conftest import VALID_CARD, WriteCard

PERSONALITY = """\
personality:
  big_five:
    openness: 0.5
    conscientiousness: 0.5
    extraversion: 0.5
    agreeableness: 0.5
    neuroticism: 0.5
"""


def errors_of(write_card: WriteCard, text: str) -> list[tuple[int, int, str]]:
    check = check_card(write_card(text))
    assert check.card is None
    return [(problem.line, problem.column, problem.message) for problem in check.errors]


def test_number_out_of_range(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("openness: 0.5", "openness: 1.7")
    assert errors_of(write_card, text) == [
        (5, 15, "personality.big_five.openness: must be a number between 0 and 1, got 1.7")
    ]


def test_number_in_a_flow_mapping(write_card: WriteCard) -> None:
    text = (
        "name: x\ndescription: y\npersonality:\n  big_five: {openness: 0.4, "
        "conscientiousness: -0.2, extraversion: .nan, agreeableness: 0.5, neuroticism: 0.5}\n"
    )
    assert errors_of(write_card, text) == [
        (
            4,
            48,
            "personality.big_five.conscientiousness: must be a number between 0 and 1, got -0.2",
        ),
        (4, 68, "personality.big_five.extraversion: must be a number between 0 and 1, got nan"),
    ]


@pytest.mark.parametrize(
    ("value", "shown", "hint"),
    [
        ("yes_please", "'yes_please'", ""),
        ('"0.5"', "'0.5'", "; remove the quotes to make it a number"),
        ("true", "true", ""),
        ("", "nothing", ""),
        ("[0.5]", "a list", ""),
    ],
)
def test_number_of_the_wrong_type(write_card: WriteCard, value: str, shown: str, hint: str) -> None:
    text = VALID_CARD.replace("neuroticism: 0.5", f"neuroticism: {value}")
    column = 18 if value else 5  # an empty value points at its key
    assert errors_of(write_card, text) == [
        (
            9,
            column,
            "personality.big_five.neuroticism: must be a number between 0 and 1, "
            f"got {shown}{hint}",
        )
    ]


def test_text_given_as_a_number_hints_at_quotes(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("name: Test Card", "name: 1984")
    assert errors_of(write_card, text) == [
        (1, 7, "name: must be non-empty text, got 1984; put it in quotes to use it as text")
    ]


@pytest.mark.parametrize("value", ['""', "'   '"])
def test_blank_text(write_card: WriteCard, value: str) -> None:
    text = VALID_CARD.replace(
        "description: A character used by the tests.", f"description: {value}"
    )
    [(line, column, message)] = errors_of(write_card, text)
    assert (line, column) == (2, 14)
    assert message.startswith("description: must be non-empty text, got '")


def test_missing_top_level_fields(write_card: WriteCard) -> None:
    text = "# a card\nname: Lonely\n"
    assert errors_of(write_card, text) == [
        (2, 1, "missing required field 'description' (non-empty text)"),
        (
            2,
            1,
            "missing required field 'personality' "
            "(a mapping with big_five (required), mbti and traits)",
        ),
    ]


def test_missing_nested_field_points_at_its_parent_key(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("    neuroticism: 0.5\n", "")
    assert errors_of(write_card, text) == [
        (
            4,
            3,
            "personality.big_five: missing required field 'neuroticism' (a number between 0 and 1)",
        )
    ]


def test_unknown_top_level_key_suggests_the_field(write_card: WriteCard) -> None:
    text = VALID_CARD + "greting: Hello\n"
    assert errors_of(write_card, text) == [
        (10, 1, "unknown field 'greting' (did you mean 'greeting'?)")
    ]


def test_unknown_nested_key_suggests_the_field(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("    openness:", "    opennes:")
    # Only the unknown key is reported: "missing 'openness'" would say the same thing twice.
    assert errors_of(write_card, text) == [
        (5, 5, "personality.big_five: unknown field 'opennes' (did you mean 'openness'?)"),
    ]


def test_missing_field_is_kept_when_the_unknown_key_suggests_another(
    write_card: WriteCard,
) -> None:
    text = VALID_CARD.replace("    openness: 0.5\n", "    neurotic: 0.5\n")
    assert [message for _, _, message in errors_of(write_card, text)] == [
        "personality.big_five: missing required field 'openness' (a number between 0 and 1)",
        "personality.big_five: unknown field 'neurotic' (did you mean 'neuroticism'?)",
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_ones(write_card: WriteCard) -> None:
    text = VALID_CARD + "memories:\n  - text: hello\n    colour: blue\n"
    assert errors_of(write_card, text) == [
        (12, 5, "memories[0]: unknown field 'colour' (allowed: text, emotion)")
    ]


def test_unknown_key_in_a_dialogue_line(write_card: WriteCard) -> None:
    text = VALID_CARD + "example_dialogues:\n  - - {role: user, content: hi, mood: calm}\n"
    assert errors_of(write_card, text) == [
        (11, 33, "example_dialogues[0][0]: unknown field 'mood' (allowed: role, content)")
    ]


def test_mbti_must_be_one_of_the_types(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("  big_five:", "  mbti: ENTJX\n  big_five:")
    assert errors_of(write_card, text) == [
        (
            4,
            9,
            "personality.mbti: must be one of the 16 MBTI types (e.g. ISTJ, ENFP), got 'ENTJX' "
            "(did you mean 'ENTJ'?)",
        )
    ]


def test_dialogue_role(write_card: WriteCard) -> None:
    text = VALID_CARD + (
        "example_dialogues:\n"
        "  - - role: user\n"
        "      content: Hi\n"
        "    - role: narator\n"
        "      content: Hello\n"
    )
    assert errors_of(write_card, text) == [
        (13, 13, "example_dialogues[0][1].role: must be user or character, got 'narator'")
    ]


def test_dialogue_must_be_a_list_of_lines(write_card: WriteCard) -> None:
    text = VALID_CARD + "example_dialogues:\n  - {role: user, content: hi}\n"
    assert errors_of(write_card, text) == [
        (11, 5, "example_dialogues[0]: must be a list of {role, content} lines, got a mapping")
    ]


def test_unknown_emotion_suggests_the_name(write_card: WriteCard) -> None:
    text = VALID_CARD + "memories:\n  - text: lost the ship\n    emotion: {sadnes: 0.9}\n"
    [(line, column, message)] = errors_of(write_card, text)
    assert (line, column) == (12, 15)
    assert message.startswith("memories[0].emotion: key 'sadnes' must be one of joy, trust, fear")
    assert message.endswith("(did you mean 'sadness'?)")


def test_emotion_out_of_range(write_card: WriteCard) -> None:
    text = VALID_CARD + "memories:\n  - text: x\n    emotion:\n      fear: 2\n"
    assert errors_of(write_card, text) == [
        (13, 13, "memories[0].emotion.fear: must be a number between 0 and 1, got 2")
    ]


def test_memory_without_text(write_card: WriteCard) -> None:
    text = VALID_CARD + "memories:\n  - emotion: {joy: 0.5}\n"
    assert errors_of(write_card, text) == [
        (11, 5, "memories[0]: missing required field 'text' (non-empty text)")
    ]


def test_attribute_names_and_values(write_card: WriteCard) -> None:
    text = VALID_CARD + "attributes:\n  formality: -0.3\n  bad-name: 0.1\n  warmth: 1.5\n"
    assert errors_of(write_card, text) == [
        (
            12,
            3,
            "attributes: key 'bad-name' must be a name made of letters, digits and _ "
            "(not starting with a digit, at most 64 long)",
        ),
        (13, 11, "attributes.warmth: must be a number between -1 and 1, got 1.5"),
    ]


def test_list_fields_reject_a_single_string(write_card: WriteCard) -> None:
    text = VALID_CARD + "tags: fantasy\n"
    assert errors_of(write_card, text) == [(10, 7, "tags: must be a list of tags, got 'fantasy'")]


def test_list_items_are_located(write_card: WriteCard) -> None:
    text = VALID_CARD + "alternate_greetings:\n  - Hi\n  - 42\n"
    assert errors_of(write_card, text) == [
        (
            12,
            5,
            "alternate_greetings[1]: must be non-empty text, got 42; "
            "put it in quotes to use it as text",
        )
    ]


def test_date_where_text_is_expected(write_card: WriteCard) -> None:
    text = VALID_CARD + "greeting: 2024-01-01\n"
    assert errors_of(write_card, text) == [
        (
            10,
            11,
            "greeting: must be text, got the date 2024-01-01; put it in quotes to use it as text",
        )
    ]


def test_personality_must_be_a_mapping(write_card: WriteCard) -> None:
    text = "name: x\ndescription: y\npersonality: grumpy\n"
    assert errors_of(write_card, text) == [
        (
            3,
            14,
            "personality: must be a mapping with big_five (required), mbti and traits, "
            "got 'grumpy'",
        )
    ]


def test_many_errors_are_all_reported_in_file_order(write_card: WriteCard) -> None:
    text = (
        "name: ''\n"
        "descripton: typo\n"
        + PERSONALITY.replace("openness: 0.5", "openness: 9")
        + "tags: [ok, 3]\n"
    )
    errors = errors_of(write_card, text)
    assert [(line, column) for line, column, _ in errors] == sorted(
        (line, column) for line, column, _ in errors
    )
    assert len(errors) == 4  # 'descripton' is not also reported as a missing 'description'
    assert {message.split(":")[0] for _, _, message in errors} >= {
        "name",
        "personality.big_five.openness",
        "tags[1]",
    }


def test_long_values_are_shortened_in_messages(write_card: WriteCard) -> None:
    text = VALID_CARD.replace("  big_five:", f"  mbti: {'X' * 500}\n  big_five:")
    [(_, _, message)] = errors_of(write_card, text)
    assert len(message) < 160
    assert "…" in message


def test_problem_renders_as_path_line_col(write_card: WriteCard) -> None:
    path = write_card(VALID_CARD + "scenaro: 1\n")
    [problem] = check_card(path).errors
    assert problem == Problem(
        str(path), 10, 1, "unknown field 'scenaro' (did you mean 'scenario'?)"
    )
    assert str(problem) == f"{path}:10:1: unknown field 'scenaro' (did you mean 'scenario'?)"


# --- the message table stays in step with the models --------------------------------


def _concrete(pattern: tuple[str, ...]) -> tuple[str | int, ...]:
    """A loc that the pattern matches: list indices and mapping keys filled in."""
    return tuple(0 if part == ANY else part for part in pattern)


def test_every_model_field_has_an_expected_description() -> None:
    for prefix, model in MODELS.items():
        for name in model.model_fields:
            loc = _concrete((*prefix, name))
            assert expected_for(loc) is not None, f"diagnostics.EXPECTED lacks {loc}"


def test_every_list_and_dict_field_describes_its_items() -> None:
    for prefix, model in MODELS.items():
        for name, info in model.model_fields.items():
            if get_origin(info.annotation) not in (list, dict) or name == "extensions":
                continue
            item = (*prefix, name, ANY)
            if item in MODELS:
                continue
            assert expected_for(_concrete(item)) is not None, f"EXPECTED lacks {item}"


def test_every_expected_pattern_is_reachable() -> None:
    # A stale entry (a renamed field) would silently never match.
    for pattern in EXPECTED:
        parent = pattern[:-1]
        while parent and parent not in MODELS:
            parent = parent[:-1]
        model = MODELS[parent]
        next_part = pattern[len(parent)]
        assert next_part in (*model.model_fields, ANY), f"EXPECTED has stale {pattern}"


def test_dotted_paths() -> None:
    assert dotted(("memories", 2, "emotion", "joy")) == "memories[2].emotion.joy"
    assert dotted(("example_dialogues", 0, 1, "role")) == "example_dialogues[0][1].role"
    assert dotted(("attributes", "bad", "[key]")) == "attributes.bad"
    assert dotted(()) == ""
