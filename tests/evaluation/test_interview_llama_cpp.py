"""Interviews on the llama.cpp backend give the numbers transformers gives on the same weights.

The tiny GGUF and its Hugging Face twin hold the same random weights
(``tests.helpers.tiny_gguf``), so the likelihood method must agree between the backends up to
llama.cpp's float16 KV cache; with the card's steering on, llama.cpp's control vectors move
the scores as transformers' hooks do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.engine.llama_cpp_engine import LlamaCppEngine
from roleplay.engine.scorer import LlamaCppScorer, scorer_for
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.evaluation.interview import Interviewer
from roleplay.evaluation.plan import Condition, Method

# Summed over a statement's ~20 tokens, float16 KV rounding adds up to a few hundredths.
TOLERANCE = 0.1


@pytest.fixture(scope="module")
def engines(tiny_gguf: Path) -> tuple[LlamaCppEngine, TransformersEngine]:
    llama = LlamaCppEngine.load(str(tiny_gguf), context_window=4096, threads=1)
    reference = TransformersEngine.load(str(tiny_gguf.parent / "hf"), context_window=4096)
    return llama, reference


def test_likelihood_interview_agrees_with_transformers(
    engines: tuple[LlamaCppEngine, TransformersEngine], characters_dir: Path
) -> None:
    llama, reference = engines
    assert isinstance(scorer_for(llama), LlamaCppScorer)
    card = characters_dir / "mira.yaml"
    ours = Interviewer(llama).interview(card, Condition.PROMPT, [Method.LIKELIHOOD])
    theirs = Interviewer(reference).interview(card, Condition.PROMPT, [Method.LIKELIHOOD])
    assert len(ours.log_likelihoods) == 50
    for item, value in theirs.log_likelihoods.items():
        assert ours.log_likelihoods[item] == pytest.approx(value, abs=TOLERANCE)
    neutral = Interviewer(llama).neutral_log_likelihoods()
    assert neutral.keys() == ours.log_likelihoods.keys()


def test_steered_interview_moves_scores_with_control_vectors(
    engines: tuple[LlamaCppEngine, TransformersEngine], characters_dir: Path
) -> None:
    llama, _ = engines
    interviewer = Interviewer(llama)
    card = characters_dir / "mira.yaml"
    plain = interviewer.interview(card, Condition.PROMPT, [Method.LIKELIHOOD])
    steered = interviewer.interview(card, Condition.CONTROLLER, [Method.LIKELIHOOD])
    assert steered.controls["steering"]["method"] == "control_vectors"
    assert steered.log_likelihoods != plain.log_likelihoods


def test_steering_only_the_reply_is_another_interview(
    engines: tuple[LlamaCppEngine, TransformersEngine], characters_dir: Path
) -> None:
    """--steering-scope reply: the statements' tokens are steered, the prompt is not; the
    scores differ from steering every token and from no steering."""
    llama, reference = engines
    card = characters_dir / "mira.yaml"
    plain = Interviewer(llama).interview(card, Condition.PROMPT, [Method.LIKELIHOOD])
    everywhere = Interviewer(llama).interview(card, Condition.CONTROLLER, [Method.LIKELIHOOD])
    reply = Interviewer(llama, steering_scope="reply").interview(
        card, Condition.CONTROLLER, [Method.LIKELIHOOD]
    )
    assert reply.controls["steering"]["scope"] == "reply"
    assert everywhere.controls["steering"]["scope"] == "all"
    assert reply.log_likelihoods != everywhere.log_likelihoods
    assert reply.log_likelihoods != plain.log_likelihoods
    assert llama.steers_prompt  # the vector came off with the interview
    from roleplay.control.errors import ControlError

    with pytest.raises(ControlError, match=r"needs llama\.cpp's control vectors"):
        Interviewer(reference, steering_scope="reply").interview(
            card, Condition.CONTROLLER, [Method.LIKELIHOOD]
        )


def test_a_half_life_reaches_the_controller_and_leaves_scoring_undecayed(
    engines: tuple[LlamaCppEngine, TransformersEngine], characters_dir: Path
) -> None:
    """--reply-half-life decays the vectors over generated replies only: the interview's
    scored answers get the full vector, so its scores are steering every token's."""
    llama, reference = engines
    card = characters_dir / "mira.yaml"
    everywhere = Interviewer(llama).interview(card, Condition.CONTROLLER, [Method.LIKELIHOOD])
    decayed = Interviewer(llama, reply_half_life=32).interview(
        card, Condition.CONTROLLER, [Method.LIKELIHOOD]
    )
    assert decayed.controls["steering"]["reply_half_life"] == 32
    assert everywhere.controls["steering"]["reply_half_life"] is None
    assert decayed.log_likelihoods == pytest.approx(everywhere.log_likelihoods, abs=1e-6)
    from roleplay.control.errors import ControlError

    with pytest.raises(ControlError, match="decaying the vectors over a reply needs llama"):
        Interviewer(reference, reply_half_life=32).interview(
            card, Condition.CONTROLLER, [Method.LIKELIHOOD]
        )


def test_grammar_method_names_the_backend(
    engines: tuple[LlamaCppEngine, TransformersEngine], characters_dir: Path
) -> None:
    from roleplay.errors import RoleplayError

    with pytest.raises(RoleplayError, match="grammar method needs the transformers backend"):
        Interviewer(engines[0]).interview(
            characters_dir / "mira.yaml", Condition.PROMPT, [Method.GRAMMAR]
        )
