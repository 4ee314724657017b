"""The card model: types, normalisation and placeholder substitution."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from roleplay.cards.model import EMOTIONS, MBTI_TYPES, BigFive, Card, normalise_mbti

BIG_FIVE = {
    "openness": 0.1,
    "conscientiousness": 0.2,
    "extraversion": 0.3,
    "agreeableness": 0.4,
    "neuroticism": 0.5,
}


def make_card(**overrides: Any) -> Card:
    data: dict[str, Any] = {
        "name": "Mira",
        "description": "A captain.",
        "personality": {"big_five": BIG_FIVE},
    }
    data.update(overrides)
    return Card.model_validate(data)


def test_emotions_are_plutchiks_eight_in_order() -> None:
    assert EMOTIONS == (
        "joy",
        "trust",
        "fear",
        "surprise",
        "sadness",
        "disgust",
        "anger",
        "anticipation",
    )


def test_big_five_as_dict_keeps_ocean_order() -> None:
    big_five = BigFive.model_validate(BIG_FIVE)
    assert big_five.as_dict() == BIG_FIVE
    assert list(big_five.as_dict()) == list(BIG_FIVE)


def test_minimal_card_has_empty_defaults() -> None:
    card = make_card()
    assert card.personality.mbti is None
    assert card.personality.traits == []
    assert card.greeting is None
    assert card.example_dialogues == [] and card.memories == [] and card.tags == []
    assert card.attributes == {} and card.extensions == {}


@pytest.mark.parametrize("written", ["istj", "IsTj", " ISTJ "])
def test_mbti_is_normalised_to_upper_case(written: str) -> None:
    card = make_card(personality={"big_five": BIG_FIVE, "mbti": written})
    assert card.personality.mbti == "ISTJ"


def test_there_are_sixteen_mbti_types() -> None:
    assert len(MBTI_TYPES) == 16
    assert normalise_mbti("enfp") == "ENFP"
    with pytest.raises(ValueError):
        normalise_mbti("ABCD")


@pytest.mark.parametrize(
    "overrides",
    [
        {"name": 5},
        {"name": "  "},
        {"personality": {"big_five": {**BIG_FIVE, "openness": True}}},
        {"personality": {"big_five": {**BIG_FIVE, "openness": "0.5"}}},
        {"personality": {"big_five": {**BIG_FIVE, "openness": float("inf")}}},
        {"personality": {"big_five": {**BIG_FIVE, "openness": 0.5, "extra": 1}}},
        {"memories": [{"text": "x", "emotion": {"love": 0.5}}]},
        {"attributes": {"9lives": 0.5}},
        {"attributes": {"formality": -1.01}},
        {"unknown": 1},
    ],
)
def test_invalid_values_are_rejected(overrides: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        make_card(**overrides)


def test_integers_are_accepted_for_scores() -> None:
    card = make_card(personality={"big_five": {**BIG_FIVE, "openness": 1}})
    assert card.personality.big_five.openness == 1.0


def test_unicode_names() -> None:
    assert make_card(name="船長ミラ 🚀").name == "船長ミラ 🚀"


def test_cards_are_immutable() -> None:
    card = make_card()
    with pytest.raises(ValidationError):
        card.name = "Other"  # type: ignore[misc]


# --- substitution -----------------------------------------------------------------------


def full_card(text: str) -> Card:
    return make_card(
        description=text,
        personality={"big_five": BIG_FIVE, "traits": [text]},
        speaking_style=text,
        scenario=text,
        greeting=text,
        alternate_greetings=[text],
        example_dialogues=[[{"role": "user", "content": text}]],
        memories=[{"text": text, "emotion": {"joy": 0.5}}],
        tags=[text],
        extensions={"note": text},
    )


def texts_of(card: Card) -> list[str | None]:
    return [
        card.description,
        card.personality.traits[0],
        card.speaking_style,
        card.scenario,
        card.greeting,
        card.alternate_greetings[0],
        card.example_dialogues[0][0].content,
        card.memories[0].text,
    ]


def test_placeholders_are_replaced_in_every_text_field() -> None:
    card = full_card("{{char}} greets {{user}}; <BOT> and <user> too, {{User}}/{{CHAR}}.")
    filled = card.substituted("Ada")
    expected = "Mira greets Ada; Mira and Ada too, Ada/Mira."
    assert texts_of(filled) == [expected] * 8


def test_name_tags_and_extensions_are_untouched() -> None:
    card = full_card("{{user}}")
    filled = card.substituted("Ada")
    assert filled.name == "Mira"
    assert filled.tags == ["{{user}}"]
    assert filled.extensions == {"note": "{{user}}"}


def test_substitution_returns_a_copy() -> None:
    card = full_card("{{user}}")
    card.substituted("Ada")
    assert card.description == "{{user}}"
    assert card.memories[0].text == "{{user}}"


@pytest.mark.parametrize(
    "text",
    [
        "{{ 7*7 }}",
        "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{{ config.__class__ }}",
        "{user} {0} {char!r} %(user)s $user",
        "{{char }} {{ user}}",
    ],
)
def test_nothing_else_is_interpreted(text: str) -> None:
    assert texts_of(full_card(text).substituted("Ada")) == [text] * 8


def test_replacement_values_stay_literal() -> None:
    card = make_card(name=r"M\1ra {{user}}", description="{{char}} meets {{user}}")
    filled = card.substituted(r"\g<0> {{char}}")
    assert filled.description == r"M\1ra {{user}} meets \g<0> {{char}}"


def test_empty_user_name_is_refused() -> None:
    with pytest.raises(ValueError):
        make_card().substituted("  ")


def test_blank_optional_text_means_none() -> None:
    card = make_card(greeting="  ", scenario="", speaking_style=None)
    assert card.greeting is None and card.scenario is None and card.speaking_style is None
