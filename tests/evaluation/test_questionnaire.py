from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.evaluation.questionnaire import (
    DATA_DIR,
    Questionnaire,
    first_person,
    load_interview_settings,
    load_questionnaire,
)


def test_ipip50_has_ten_items_per_trait_keyed_both_ways() -> None:
    questionnaire = load_questionnaire()
    assert len(questionnaire.items) == 50
    for trait in BIG_FIVE_TRAITS:
        items = questionnaire.items_for(trait)
        assert len(items) == 10
        assert {item.keyed for item in items} == {1, -1}


def test_items_are_asked_in_the_first_person() -> None:
    assert first_person("Am the life of the party.") == "I am the life of the party."
    assert first_person("Don't talk a lot.") == "I don't talk a lot."
    item = load_questionnaire().items[0]
    assert item.statement == "I am the life of the party."
    assert item.trait == "extraversion"


def test_the_bundled_copy_matches_the_shared_data_file() -> None:
    # The project's shared/ folder lies beside the checkout (and beside CI's clone).
    shared = Path(__file__).resolve().parents[3] / "shared" / "data" / "ipip50.yaml"
    if not shared.is_file():
        pytest.skip(f"no shared data folder beside the checkout ({shared.parent})")
    assert (DATA_DIR / "ipip50.yaml").read_text() == shared.read_text()


def test_the_question_ends_with_the_statement() -> None:
    settings = load_interview_settings()
    item = load_questionnaire().items[3]
    question = settings.likert.ask(item)
    assert question.endswith(f'"{item.statement}"')
    assert settings.likert.options == ("1", "2", "3", "4", "5")


def test_a_questionnaire_without_reverse_keyed_items_is_refused() -> None:
    items = [
        {"id": i, "trait": letter, "keyed": 1, "text": "Am fine."}
        for i, letter in enumerate("OCEAN")
    ]
    with pytest.raises(ValidationError, match="keyed both"):
        Questionnaire.model_validate({"items": items})
