from __future__ import annotations

import pytest

from roleplay.errors import RoleplayError
from roleplay.evaluation.plan import Condition, Method, parse_conditions, parse_methods


def test_methods_parse_repeated_and_comma_separated() -> None:
    assert parse_methods(["likelihood,grammar", "likelihood"]) == [
        Method.LIKELIHOOD,
        Method.GRAMMAR,
    ]
    assert parse_conditions(["prompt, memory"]) == [Condition.PROMPT, Condition.MEMORY]


@pytest.mark.parametrize(
    ("parse", "value", "message"),
    [
        (parse_methods, "likert", "unknown method 'likert'"),
        (parse_conditions, "prompt,steer", "unknown condition 'steer'"),
        (parse_conditions, " , ", "no condition given"),
    ],
)
def test_bad_names_are_one_line_errors(parse, value: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RoleplayError, match=message) as caught:
        parse([value])
    assert "\n" not in caught.value.message
