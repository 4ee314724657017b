"""Big Five levels and the MBTI <-> Big Five mapping."""

from __future__ import annotations

import pytest

from roleplay.cards.model import MBTI_TYPES, BigFive
from roleplay.cards.personality import big_five_from_mbti, mbti_contradictions, trait_level


@pytest.mark.parametrize(
    ("score", "level"),
    [
        (0.0, "low"),
        (0.34, "low"),
        (0.35, "moderate"),
        (0.5, "moderate"),
        (0.65, "moderate"),
        (0.66, "high"),
        (1.0, "high"),
    ],
)
def test_trait_level(score: float, level: str) -> None:
    assert trait_level(score) == level


def test_big_five_from_mbti() -> None:
    assert big_five_from_mbti("ENFJ").as_dict() == {
        "openness": 0.75,
        "conscientiousness": 0.75,
        "extraversion": 0.75,
        "agreeableness": 0.7,
        "neuroticism": 0.5,
    }
    assert big_five_from_mbti("istp").as_dict() == {
        "openness": 0.25,
        "conscientiousness": 0.25,
        "extraversion": 0.25,
        "agreeableness": 0.35,
        "neuroticism": 0.5,
    }


@pytest.mark.parametrize("mbti", sorted(MBTI_TYPES))
def test_a_prefilled_profile_never_contradicts_its_type(mbti: str) -> None:
    assert mbti_contradictions(big_five_from_mbti(mbti), mbti) == []


def test_big_five_from_mbti_rejects_non_types() -> None:
    with pytest.raises(ValueError):
        big_five_from_mbti("XXXX")


def scores(**changes: float) -> BigFive:
    base = dict.fromkeys(
        ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"), 0.5
    )
    return BigFive.model_validate({**base, **changes})


def test_moderate_scores_fit_any_letter() -> None:
    for mbti in MBTI_TYPES:
        assert mbti_contradictions(scores(), mbti) == []
    assert mbti_contradictions(scores(extraversion=0.4, openness=0.6), "ESTJ") == []


def test_contradictions_name_the_letter_and_the_score() -> None:
    notes = mbti_contradictions(scores(extraversion=0.2, conscientiousness=0.9), "ENFP")
    assert notes == [
        "'E' (extravert) means high extraversion, but big_five.extraversion is 0.2 "
        "(expected a score above 0.4)",
        "'P' (perceiving) means low conscientiousness, but big_five.conscientiousness is 0.9 "
        "(expected a score below 0.6)",
    ]


@pytest.mark.parametrize(
    ("mbti", "changes", "letter"),
    [
        ("ISTJ", {"extraversion": 0.8}, "I"),
        ("ESTJ", {"openness": 0.9}, "S"),
        ("INTJ", {"openness": 0.1}, "N"),
        ("INFJ", {"agreeableness": 0.2}, "F"),
        ("INTJ", {"agreeableness": 0.9}, "T"),
        ("INTJ", {"conscientiousness": 0.1}, "J"),
    ],
)
def test_each_axis_is_checked(mbti: str, changes: dict[str, float], letter: str) -> None:
    [note] = mbti_contradictions(scores(**changes), mbti)
    assert note.startswith(f"'{letter}'")


def test_neuroticism_is_never_contradicted() -> None:
    for mbti in MBTI_TYPES:
        assert mbti_contradictions(scores(neuroticism=1.0), mbti) == []
        assert mbti_contradictions(scores(neuroticism=0.0), mbti) == []
