"""From responses to fidelity: hand-made responses (exact) and one tiny-model run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from roleplay.errors import RoleplayError
from roleplay.evaluation.interview import ItemResponses
from roleplay.evaluation.persona import estimates_for, evaluate_persona
from roleplay.evaluation.plan import Condition, Method
from roleplay.evaluation.questionnaire import load_interview_settings, load_questionnaire
from roleplay.evaluation.report import (
    character_table,
    report_json,
    summary_table,
    trait_table,
    write_plot,
)

QUESTIONNAIRE = load_questionnaire()
SETTINGS = load_interview_settings()


def _extravert_responses(strength: float) -> ItemResponses:
    """Agrees with extraversion items in proportion to ``strength`` (0..1), neutral otherwise."""
    responses = ItemResponses()
    for item in QUESTIONNAIRE.items:
        agree = strength if item.trait == "extraversion" else 0.5
        if item.keyed == -1:
            agree = 1 - agree
        # All mass on "5" with probability agree, on "1" otherwise: expected 1 + 4 * agree.
        responses.option_probabilities[item.id] = [1 - agree, 0, 0, 0, agree]
        responses.grammar_answers[item.id] = 5 if agree > 0.5 else 1 if agree < 0.5 else 3
        shift = item.keyed * (strength - 0.5) if item.trait == "extraversion" else 0.0
        responses.log_likelihoods[item.id] = -10.0 + shift
        responses.neutral_log_likelihoods[item.id] = -10.0
    return responses


def test_expected_likert_estimates_are_exact() -> None:
    responses = {"Pip": _extravert_responses(1.0), "Sable": _extravert_responses(0.25)}
    estimates, notes = estimates_for(Method.EXPECTED_LIKERT, responses, QUESTIONNAIRE, SETTINGS)
    assert estimates["Pip"]["extraversion"] == pytest.approx(1.0)
    assert estimates["Sable"]["extraversion"] == pytest.approx(0.25)
    assert estimates["Pip"]["openness"] == pytest.approx(0.5)
    assert notes == []


def test_grammar_estimates_use_the_discrete_answers() -> None:
    responses = {"Pip": _extravert_responses(0.9), "Sable": _extravert_responses(0.1)}
    estimates, _ = estimates_for(Method.GRAMMAR, responses, QUESTIONNAIRE, SETTINGS)
    assert estimates["Pip"]["extraversion"] == 1.0
    assert estimates["Sable"]["extraversion"] == 0.0
    assert estimates["Pip"]["agreeableness"] == 0.5


def test_likelihood_estimates_are_centred_across_characters() -> None:
    responses = {"Pip": _extravert_responses(1.0), "Sable": _extravert_responses(0.0)}
    estimates, notes = estimates_for(Method.LIKELIHOOD, responses, QUESTIONNAIRE, SETTINGS)
    # Raw keyed differences: +0.5 (Pip) and -0.5 (Sable); their mean is 0, so centring
    # keeps them, and the logistic with scale 0.5 maps +-0.5 to 1 / (1 + e^-+1).
    high = 1 / (1 + math.exp(-1))
    assert estimates["Pip"]["extraversion"] == pytest.approx(high)
    assert estimates["Sable"]["extraversion"] == pytest.approx(1 - high)
    assert estimates["Pip"]["neuroticism"] == pytest.approx(0.5)
    assert notes == []
    _, alone = estimates_for(Method.LIKELIHOOD, {"Pip": responses["Pip"]}, QUESTIONNAIRE, SETTINGS)
    assert "not centred" in alone[0]


def test_a_tiny_model_run_reports_every_method_and_condition(
    roomy_tiny_engine: Any, characters_dir: Path, tmp_path: Path
) -> None:
    cards = [characters_dir / "mira.yaml", characters_dir / "pip.yaml"]
    methods = [Method.EXPECTED_LIKERT, Method.GRAMMAR, Method.LIKELIHOOD]
    conditions = [Condition.PROMPT, Condition.CONTROLLER]
    report = evaluate_persona(roomy_tiny_engine, cards, methods, conditions)
    assert [(r.method, r.condition) for r in report.results] == [
        (m, c) for c in conditions for m in methods
    ]
    payload = report_json(report)
    json.dumps(payload)  # JSON-ready
    first = payload["results"][0]
    assert set(first) >= {"method", "condition", "mae", "acc_dim", "acc_full", "characters"}
    assert first["characters"][0]["traits"]["openness"]["counted"] is False  # Mira: 0.45
    assert set(payload["controls"]) == {"controller/Captain Mira Voss", "controller/Pip Marigold"}
    png = write_plot(report, tmp_path / "plot.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for table in (summary_table(report), trait_table(report), character_table(report.results[0])):
        assert table.row_count > 0


def test_the_same_character_twice_is_an_error(roomy_tiny_engine: Any, characters_dir: Path) -> None:
    card = characters_dir / "mira.yaml"
    with pytest.raises(RoleplayError, match="given twice"):
        evaluate_persona(roomy_tiny_engine, [card, card], [Method.LIKELIHOOD], [Condition.PROMPT])
