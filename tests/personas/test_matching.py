"""Matching characters to a persona: `similar` puts the look-alike first, `complementary` the
character who complements the user; every reason is one readable line."""

from __future__ import annotations

import pytest

from roleplay.cards.model import BigFive
from roleplay.errors import RoleplayError
from roleplay.paths import user_characters_dir
from roleplay.personas.matching import (
    Candidate,
    card_candidates,
    match_characters,
    matching_rule,
    rank,
)
from roleplay.personas.model import Persona
from tests.personas.conftest import write_card

# An outgoing, curious, warm and calm user ...
USER = (0.9, 0.5, 0.9, 0.9, 0.1)
# ... their twin, and the one the complementary rule wants: reserved and down-to-earth
# (opposite E and O), the same conscientiousness, warm and calm.
TWIN = (0.9, 0.5, 0.9, 0.9, 0.1)
OPPOSITE = (0.1, 0.5, 0.1, 1.0, 0.0)


def persona(**fields: object) -> Persona:
    scores = dict(zip(BigFive.model_fields, USER, strict=True))
    return Persona.model_validate({"name": "Alex", "big_five": scores, "mbti": "ENFJ", **fields})


@pytest.fixture
def cards() -> None:
    write_card("twin", "Twin", TWIN, "ENFJ")
    write_card("opposite", "Opposite", OPPOSITE, "ISFJ")


def test_similar_ranks_the_look_alike_first(cards: None) -> None:
    report = match_characters(persona(), mode="similar", limit=None)
    first = report.matches[0]
    assert (first.card_name, first.card_ref, first.source) == ("Twin", "twin", "user")
    assert first.score == 1.0
    assert first.reason.startswith("similar: both ") and first.reason.endswith("same MBTI ENFJ")
    assert "open (0.90, you 0.90)" in first.reason
    names = [match.card_name for match in report.matches]
    assert {"Twin", "Opposite", "Pip Marigold", "Sable"} <= set(names)  # user + bundled
    assert names.index("Opposite") > names.index("Pip Marigold")
    assert [m.score for m in report.matches] == sorted(
        (m.score for m in report.matches), reverse=True
    )
    for match in report.matches:
        assert "\n" not in match.reason and 0.0 <= match.score <= 1.0
    assert report.notes == [] and not report.derived_from_mbti


def test_complementary_ranks_the_opposite_first(cards: None) -> None:
    report = match_characters(persona(), mode="complementary", limit=3)
    assert len(report.matches) == 3
    first = report.matches[0]
    assert first.card_name == "Opposite" and first.score == 1.0
    assert first.reason == (
        "complementary: down-to-earth where you are open (0.10, you 0.90); reserved where "
        "you are outgoing (0.10, you 0.90); warm (1.00) and calm (0.00); "
        "MBTI ISFJ vs your ENFJ (4 of 4 letters as wanted)"
    )
    everything = match_characters(persona(), mode="complementary", limit=None).matches
    names = [match.card_name for match in everything]
    assert names.index("Twin") > names.index("Opposite")


def test_high_agreeableness_and_low_neuroticism_count_whoever_you_are() -> None:
    grumpy = BigFive(
        openness=0.5, conscientiousness=0.5, extraversion=0.5, agreeableness=0.1, neuroticism=0.9
    )
    kind = Candidate(
        "Kind", "kind", grumpy.model_copy(update={"agreeableness": 0.9, "neuroticism": 0.1})
    )
    mirror = Candidate("Mirror", "mirror", grumpy)
    ranked = rank(grumpy, None, [mirror, kind], "complementary")
    assert [match.card_name for match in ranked] == ["Kind", "Mirror"]
    assert "though blunt (agreeableness 0.10) and sensitive (neuroticism 0.90)" in ranked[1].reason
    assert [m.card_name for m in rank(grumpy, None, [kind, mirror], "similar")] == [
        "Mirror",
        "Kind",
    ]


def test_a_persona_with_only_mbti_is_derived_and_noted(cards: None) -> None:
    report = match_characters(persona(big_five=None, mbti="enfj"), mode="similar", limit=1)
    assert report.derived_from_mbti
    assert report.notes == ["Alex's Big Five derived from MBTI ENFJ"]
    assert report.matches[0].card_name == "Twin"


def test_a_persona_without_personality_is_a_one_line_error() -> None:
    with pytest.raises(RoleplayError) as caught:
        match_characters(Persona(name="Alex"))
    assert caught.value.message == (
        "persona 'Alex' has no Big Five or MBTI; add them with roleplay persona edit Alex "
        "--big-five O,C,E,A,N (or --mbti TYPE)"
    )


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(RoleplayError, match="unknown match mode 'opposite'"):
        match_characters(persona(), mode="opposite")


def test_cards_without_big_five_use_mbti_or_are_skipped_with_a_note() -> None:
    notes: list[str] = []
    only_mbti = Candidate("Only MBTI", "only", None, "ENFJ")
    nothing = Candidate("Nothing", "nothing", None, None)
    ranked = rank(
        persona().big_five or BigFive.model_validate({}),
        "ENFJ",
        [nothing, only_mbti],
        "similar",
        notes=notes,
    )
    assert [match.card_name for match in ranked] == ["Only MBTI"]
    assert notes == ["skipped Nothing: the card has no Big Five or MBTI"]


def test_broken_cards_are_skipped_with_a_note_and_user_cards_hide_bundled_ones(
    cards: None,
) -> None:
    (user_characters_dir() / "broken.yaml").write_text("name: [oops\n", encoding="utf-8")
    write_card("pip", "My Pip", TWIN)  # shadows the bundled pip.yaml
    candidates, notes = card_candidates()
    refs = [candidate.ref for candidate in candidates]
    assert refs.count("pip") == 1
    assert next(c for c in candidates if c.ref == "pip").name == "My Pip"
    assert len(notes) == 1 and notes[0].startswith("skipped broken (user card): ")
    report = match_characters(persona(), limit=2)
    assert report.notes == notes and "\n" not in notes[0]


def test_the_rule_file_is_whole() -> None:
    rule = matching_rule()
    assert set(rule.modes) == {"similar", "complementary"}
    assert set(rule.modes["similar"].values()) == {"same"}
    assert rule.modes["complementary"]["agreeableness"] == "high"
    assert rule.modes["complementary"]["neuroticism"] == "low"
