"""Strengths: --steer parsing, card mapping, overrides and the fluency bound."""

from __future__ import annotations

from typing import Any

import pytest

from roleplay.control.errors import ControlError
from roleplay.control.strengths import (
    big_five_strength,
    parse_steer_spec,
    resolve_strengths,
    strengths_from_card,
    validate_strengths,
)
from roleplay.errors import RoleplayError
from tests.control.conftest import make_card

KNOWN = ["agreeableness", "extraversion", "formality", "neuroticism", "openness", "sentiment"]


def test_parse_steer_spec() -> None:
    assert parse_steer_spec("extraversion=+1.0,sentiment=-0.5", KNOWN) == {
        "extraversion": 1.0,
        "sentiment": -0.5,
    }
    assert parse_steer_spec(" formality = 2 , ", KNOWN) == {"formality": 2.0}
    assert parse_steer_spec("", KNOWN) == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sentimnt=1", "unknown attribute 'sentimnt' (did you mean 'sentiment'?)"),
        ("zzz=1", "unknown attribute 'zzz' (known: agreeableness, extraversion"),
        ("sentiment=high", "strength of 'sentiment' must be a number, got 'high'"),
        ("sentiment", "expected NAME=STRENGTH, got 'sentiment'"),
        ("sentiment=", "expected NAME=STRENGTH"),
        ("sentiment=nan", "must be a finite number"),
        ("sentiment=1,sentiment=2", "'sentiment' is given twice"),
    ],
)
def test_parse_errors_are_one_line_roleplay_errors(text: str, message: str) -> None:
    with pytest.raises(ControlError) as caught:
        parse_steer_spec(text, KNOWN)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert isinstance(caught.value, RoleplayError) and isinstance(caught.value, ValueError)
    assert caught.value.exit_code == 2


def test_big_five_maps_around_one_half() -> None:
    assert big_five_strength(0.5) == 0.0
    assert big_five_strength(1.0) == 1.0
    assert big_five_strength(0.0) == -1.0
    assert big_five_strength(0.8) == pytest.approx(0.6)


def test_strengths_from_card() -> None:
    card = make_card({"extraversion": 0.9, "neuroticism": 0.25}, {"sentiment": 0.5})
    assert strengths_from_card(card, KNOWN) == pytest.approx(
        {"extraversion": 0.8, "neuroticism": -0.5, "sentiment": 0.5}
    )
    with pytest.raises(ControlError, match="card attributes: unknown attribute 'sentimental'"):
        strengths_from_card(make_card(attributes={"sentimental": 1}), KNOWN)
    lots: Any = "lots"
    with pytest.raises(ControlError, match="must be a number"):
        strengths_from_card(make_card(attributes={"sentiment": lots}), KNOWN)
    assert strengths_from_card(object(), KNOWN) == {}  # a card without these fields


def test_overrides_replace_card_values_and_strengths_are_clipped() -> None:
    card = make_card({"extraversion": 1.0, "openness": 0.5}, {"formality": -0.4})
    resolved = resolve_strengths(
        card, {"extraversion": -3.0, "formality": 0}, KNOWN, max_strength=2.0
    )
    assert resolved.strengths == {"extraversion": -2.0}  # formality switched off, openness 0
    assert resolved.requested["extraversion"] == -3.0
    assert resolved.clipped == {"extraversion": -3.0}
    assert resolved.sources["extraversion"] == "override"
    with pytest.raises(ControlError, match="did you mean 'openness'"):
        resolve_strengths(None, {"opennes": 1}, KNOWN, max_strength=2.0)
    with pytest.raises(ControlError, match="must be a number"):
        validate_strengths({"sentiment": True}, KNOWN)
