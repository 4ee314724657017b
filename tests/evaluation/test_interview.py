"""Interviews on the tiny random model: the chat prompt path, every method, no stored sessions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from roleplay.engine.forward import next_token_logprobs
from roleplay.engine.scorer import scorer_for
from roleplay.errors import RoleplayError
from roleplay.evaluation import parts
from roleplay.evaluation.interview import Interviewer, option_token_ids
from roleplay.evaluation.plan import Condition, Method
from roleplay.paths import sessions_db_path
from roleplay.prompting.builder import MemorySnippet
from tests.helpers.scripted_engine import ScriptedEngine

ALL = [Method.EXPECTED_LIKERT, Method.GRAMMAR, Method.LIKELIHOOD]


def test_prompt_condition_answers_every_item_with_every_method(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str]
) -> None:
    interviewer = Interviewer(roomy_tiny_engine, batch_size=16)
    responses = interviewer.interview(characters_dir / "mira.yaml", Condition.PROMPT, ALL)
    assert len(responses.option_probabilities) == 50
    for probabilities in responses.option_probabilities.values():
        assert len(probabilities) == 5
        assert sum(probabilities) == pytest.approx(1.0)
    assert set(responses.grammar_answers.values()) <= {1, 2, 3, 4, 5}
    assert len(responses.log_likelihoods) == 50
    assert all(value < 0 for value in responses.log_likelihoods.values())
    assert len(responses.likelihood_differences) == 50
    # 50 Likert questions and one "describe yourself" request, each with the card's prompt.
    assert len(prepared_prompts) == 51
    assert all("Captain Mira Voss" in prompt for prompt in prepared_prompts)
    assert "I am the life of the party." in prepared_prompts[0]
    assert "Describe yourself in one sentence." in prepared_prompts[-1]
    assert responses.controls == {}


def test_grammar_answer_is_the_most_likely_digit(
    roomy_tiny_engine: Any, characters_dir: Path, prepared_prompts: list[str]
) -> None:
    """Under the [1-5] grammar, greedy decoding picks the likeliest bare digit token."""
    responses = Interviewer(roomy_tiny_engine).interview(
        characters_dir / "sable.yaml", Condition.PROMPT, [Method.GRAMMAR]
    )
    assert responses.option_probabilities == {}
    tokenizer = roomy_tiny_engine.tokenizer
    digits = [tokenizer(str(d), add_special_tokens=False)["input_ids"][0] for d in range(1, 6)]
    rows = [[int(t) for t in roomy_tiny_engine.encode(p)[0].tolist()] for p in prepared_prompts]
    logprobs = next_token_logprobs(roomy_tiny_engine.model, rows, batch_size=25, pad_id=0)
    expected = [int(torch.argmax(row[digits])) + 1 for row in logprobs]
    items = sorted(responses.grammar_answers)
    assert [responses.grammar_answers[item] for item in items] == expected


def test_interviews_leave_no_session_in_the_users_store(
    roomy_tiny_engine: Any, characters_dir: Path
) -> None:
    Interviewer(roomy_tiny_engine).interview(
        characters_dir / "pip.yaml", Condition.PROMPT, [Method.LIKELIHOOD]
    )
    assert not sessions_db_path().exists()


def test_the_neutral_baseline_is_computed_once(roomy_tiny_engine: Any) -> None:
    interviewer = Interviewer(roomy_tiny_engine)
    assert interviewer.neutral_rows() == 50
    first = interviewer.neutral_log_likelihoods()
    assert interviewer.neutral_rows() == 0
    assert interviewer.neutral_log_likelihoods() == first


class FakeMemory:
    """Recalls one fixed memory; remembering anything is a test failure."""

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        return [MemorySnippet("Saw the lighthouse burn in the year of the storm.", 0.9, "m1")], {}

    def remember_exchange(self, *args: Any) -> None:
        raise AssertionError("interviews must not write to memory")


def test_controller_and_memory_conditions_change_the_answers(
    roomy_tiny_engine: Any,
    characters_dir: Path,
    prepared_prompts: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parts, "memory_factory", lambda *_: lambda card: FakeMemory())
    interviewer = Interviewer(roomy_tiny_engine)
    card = characters_dir / "elias.yaml"
    plain = interviewer.interview(card, Condition.PROMPT, [Method.LIKELIHOOD])
    steered = interviewer.interview(card, Condition.CONTROLLER, [Method.LIKELIHOOD])
    remembered = interviewer.interview(card, Condition.MEMORY, [Method.LIKELIHOOD])
    assert steered.controls["steering"]["strengths"]  # the card's traits are steered
    assert steered.log_likelihoods != plain.log_likelihoods
    assert remembered.recalled_memories == 50
    assert "lighthouse burn" in prepared_prompts[-1]
    assert "lighthouse burn" not in prepared_prompts[0]


def test_option_tokens_include_the_spaced_variant(roomy_tiny_engine: Any) -> None:
    ids = option_token_ids(scorer_for(roomy_tiny_engine), ["1", "5"])
    assert all(ids) and len(ids) == 2


def test_engines_without_logits_are_refused() -> None:
    with pytest.raises(RoleplayError, match="no log-probabilities"):
        Interviewer(ScriptedEngine())


def test_steering_hooks_are_removed_after_an_interview(
    roomy_tiny_engine: Any, characters_dir: Path
) -> None:
    Interviewer(roomy_tiny_engine).interview(
        characters_dir / "hana.yaml", Condition.CONTROLLER, [Method.EXPECTED_LIKERT]
    )
    hooks = [m._forward_hooks for m in roomy_tiny_engine.model.modules() if m._forward_hooks]
    assert hooks == []
    assert torch.is_grad_enabled()
