"""Interviews on a backend that reports only the next token's top log-probabilities (a server).

A scripted engine stands in for the server here (what it answers is chosen per question);
``test_interview_over_server.py`` runs the same path against llama-cpp-python's server.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from roleplay.engine.base import Capabilities, ChatMessage
from roleplay.errors import RoleplayError
from roleplay.evaluation.interview import (
    Interviewer,
    server_option_probabilities,
    unsupported_reason,
)
from roleplay.evaluation.persona import evaluate_persona
from roleplay.evaluation.plan import Condition, Method
from tests.helpers.scripted_engine import ScriptedEngine

OPTIONS = ["1", "2", "3", "4", "5"]


class TopTokensEngine(ScriptedEngine):
    """Answers "4" (mostly) to every question, except those that mention ``silent_on``,
    where no answer digit is among its top tokens."""

    capabilities = Capabilities(backend="openai", steering="prompt", top_logprobs=True)

    def __init__(self, silent_on: str = "\0") -> None:
        super().__init__()
        self.silent_on = silent_on
        self.asked: list[list[ChatMessage]] = []

    def next_token_alternatives(
        self, messages: Sequence[ChatMessage], count: int = 20
    ) -> dict[str, float]:
        self.asked.append(list(messages))
        if self.silent_on in messages[-1].content:
            return {"Well": math.log(0.6), "I": math.log(0.3)}
        return {"4": math.log(0.6), " 4": math.log(0.1), "2": math.log(0.1), "Sure": -1.0}


def test_option_probabilities_come_from_the_top_tokens_that_spell_an_option() -> None:
    alternatives = {"4": math.log(0.6), " 4": math.log(0.1), "2 ": math.log(0.1), "Hi": -0.1}
    probabilities = server_option_probabilities(alternatives, OPTIONS)
    assert probabilities == pytest.approx([0, 0.125, 0, 0.875, 0])
    assert server_option_probabilities({"Hi": -0.1}, OPTIONS) is None


def test_expected_likert_asks_every_item_as_a_chat_request(characters_dir: Path) -> None:
    engine = TopTokensEngine()
    interviewer = Interviewer(engine)
    responses = interviewer.interview(
        characters_dir / "mira.yaml", Condition.PROMPT, [Method.EXPECTED_LIKERT]
    )
    items = interviewer.questionnaire.items
    assert len(engine.asked) == len(items) == len(responses.option_probabilities)
    assert engine.asked[0][0].role == "system"  # the card's prompt, as chat builds it
    assert "Mira" in engine.asked[0][0].content
    for probabilities in responses.option_probabilities.values():
        assert probabilities == pytest.approx([0, 0.125, 0, 0.875, 0])
    assert responses.unanswered == 0


def test_an_item_with_no_answer_digit_counts_as_the_middle_and_is_reported(
    characters_dir: Path,
) -> None:
    engine = TopTokensEngine(silent_on="life of the party")
    report = evaluate_persona(
        engine,
        [characters_dir / "mira.yaml"],
        [Method.EXPECTED_LIKERT],
        [Condition.PROMPT],
        resamples=0,
    )
    (result,) = report.results
    assert any("1 of 50 answers had no answer digit" in note for note in result.notes)


@pytest.mark.parametrize("method", [Method.LIKELIHOOD, Method.GRAMMAR])
def test_methods_that_score_text_are_refused_on_a_server_in_one_line(
    method: Method, characters_dir: Path
) -> None:
    engine = TopTokensEngine()
    reason = unsupported_reason(engine, method)
    assert reason is not None and "--method expected-likert" in reason
    with pytest.raises(RoleplayError, match="expected-likert") as caught:
        evaluate_persona(engine, [characters_dir / "mira.yaml"], [method], [Condition.PROMPT])
    assert "\n" not in str(caught.value)
    assert engine.asked == []  # refused before any request
    with pytest.raises(RoleplayError, match="--method expected-likert"):
        _ = Interviewer(engine).scorer
