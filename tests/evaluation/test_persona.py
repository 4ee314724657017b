"""From responses to fidelity: hand-made responses (exact) and one tiny-model run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.errors import RoleplayError
from roleplay.evaluation.intervals import LikelihoodPanel, fidelity_intervals
from roleplay.evaluation.interview import ItemResponses
from roleplay.evaluation.metrics import compare_traits, summarise
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
from roleplay.evaluation.scoring import reference_offsets

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
    assert notes == ["no reference panel: likelihood scores are centred across these characters"]
    _, alone = estimates_for(Method.LIKELIHOOD, {"Pip": responses["Pip"]}, QUESTIONNAIRE, SETTINGS)
    assert "not centred" in alone[0]


def _panel() -> LikelihoodPanel:
    """Two reference characters symmetric around 0.5 on every trait."""
    cards = {
        "High": dict.fromkeys(BIG_FIVE_TRAITS, 0.9),
        "Low": dict.fromkeys(BIG_FIVE_TRAITS, 0.1),
    }
    return LikelihoodPanel(
        {"High": _extravert_responses(0.9), "Low": _extravert_responses(0.1)}, cards
    )


def test_likelihood_estimates_with_a_reference_panel_ignore_the_company() -> None:
    # The panel's raw extraversion values are +0.4 and -0.4 for cards 0.9 and 0.1, whose
    # logits cancel: the offset is 0, so Pip's raw +0.5 maps to the logistic of 0.5 / 0.5.
    pip, sable = _extravert_responses(1.0), _extravert_responses(0.3)
    together, notes = estimates_for(
        Method.LIKELIHOOD, {"Pip": pip, "Sable": sable}, QUESTIONNAIRE, SETTINGS, panel=_panel()
    )
    alone, _ = estimates_for(
        Method.LIKELIHOOD, {"Pip": pip}, QUESTIONNAIRE, SETTINGS, panel=_panel()
    )
    assert together["Pip"] == alone["Pip"]
    assert alone["Pip"]["extraversion"] == pytest.approx(1 / (1 + math.exp(-1)))
    assert together["Sable"]["extraversion"] < 0.5  # raw -0.2: below the panel's zero point
    assert notes == []


def test_reference_offsets_follow_the_panel_cards() -> None:
    scale = SETTINGS.likelihood.scale
    raw = {"a": dict.fromkeys(BIG_FIVE_TRAITS, 0.3), "b": dict.fromkeys(BIG_FIVE_TRAITS, 0.1)}
    cards = {"a": dict.fromkeys(BIG_FIVE_TRAITS, 0.8), "b": dict.fromkeys(BIG_FIVE_TRAITS, 0.6)}
    offsets = reference_offsets(raw, cards, scale)
    expected = 0.2 - scale * (math.log(0.8 / 0.2) + math.log(0.6 / 0.4)) / 2
    assert offsets["openness"] == pytest.approx(expected)
    # A panel on a card of 1.0 stays finite (clipped to 0.95).
    clipped = reference_offsets({"a": raw["a"]}, {"a": dict.fromkeys(BIG_FIVE_TRAITS, 1.0)}, scale)
    assert clipped["openness"] == pytest.approx(0.3 - scale * math.log(0.95 / 0.05))


@pytest.mark.parametrize("method", [Method.EXPECTED_LIKERT, Method.GRAMMAR, Method.LIKELIHOOD])
def test_bootstrap_recomputes_exactly_what_the_point_estimate_computes(method: Method) -> None:
    # One character whose items agree within each trait: every resample gives the same
    # estimates, so the interval collapses onto the point estimate if (and only if) the
    # bootstrap scores items the way estimates_for does (keying, mapping, panel offset).
    responses = {"Pip": _extravert_responses(0.8)}
    card = {"Pip": {**dict.fromkeys(BIG_FIVE_TRAITS, 0.3), "extraversion": 0.9}}
    panel = _panel()
    estimates, _ = estimates_for(method, responses, QUESTIONNAIRE, SETTINGS, panel=panel)
    fidelity = compare_traits("Pip", card["Pip"], estimates["Pip"], SETTINGS.accuracy)
    intervals = fidelity_intervals(
        method, responses, card, QUESTIONNAIRE, SETTINGS, panel=panel, resamples=50
    )
    assert intervals.mae == pytest.approx((fidelity.mae, fidelity.mae))
    assert intervals.acc_dim == pytest.approx((fidelity.acc_dim, fidelity.acc_dim))


def test_bootstrap_intervals_cover_the_estimate_and_narrow_with_more_characters() -> None:
    import random

    rng = random.Random(3)

    def population(size: int) -> tuple[dict[str, ItemResponses], dict[str, dict[str, float]]]:
        responses, cards = {}, {}
        for index in range(size):
            high = rng.random() < 0.5
            responses[f"c{index}"] = _extravert_responses(0.65 if high else 0.35)
            # Three in four agree with their card on extraversion; the rest disagree.
            agrees = rng.random() < 0.75
            level = 0.8 if high == agrees else 0.2
            cards[f"c{index}"] = {**dict.fromkeys(BIG_FIVE_TRAITS, 0.5), "extraversion": level}
        return responses, cards

    widths = []
    for size in (8, 64):
        responses, cards = population(size)
        estimates, _ = estimates_for(Method.EXPECTED_LIKERT, responses, QUESTIONNAIRE, SETTINGS)
        overall = summarise(
            [compare_traits(n, cards[n], estimates[n], SETTINGS.accuracy) for n in responses]
        )
        intervals = fidelity_intervals(
            Method.EXPECTED_LIKERT, responses, cards, QUESTIONNAIRE, SETTINGS, resamples=400
        )
        assert intervals.acc_dim is not None and overall.acc_dim is not None
        assert intervals.acc_dim[0] <= overall.acc_dim <= intervals.acc_dim[1]
        assert intervals.trait_acc["openness"] is None  # no openness card has a side
        widths.append(intervals.acc_dim[1] - intervals.acc_dim[0])
    assert widths[1] < widths[0]


def test_the_likelihood_bootstrap_needs_a_panel() -> None:
    with pytest.raises(ValueError, match="reference panel"):
        fidelity_intervals(
            Method.LIKELIHOOD,
            {"Pip": _extravert_responses(0.8)},
            {"Pip": dict.fromkeys(BIG_FIVE_TRAITS, 0.8)},
            QUESTIONNAIRE,
            SETTINGS,
        )


def test_a_tiny_model_run_reports_every_method_and_condition(
    roomy_tiny_engine: Any, characters_dir: Path, tmp_path: Path
) -> None:
    cards = [characters_dir / "mira.yaml", characters_dir / "pip.yaml"]
    methods = [Method.EXPECTED_LIKERT, Method.GRAMMAR, Method.LIKELIHOOD]
    conditions = [Condition.PROMPT, Condition.CONTROLLER]
    # The reference panel (Pip alone) overlaps the evaluated set: Pip is interviewed once.
    report = evaluate_persona(
        roomy_tiny_engine,
        cards,
        methods,
        conditions,
        reference_paths=[characters_dir / "pip.yaml"],
        resamples=100,
    )
    assert [(r.method, r.condition) for r in report.results] == [
        (m, c) for c in conditions for m in methods
    ]
    assert [c.name for c in report.reference] == ["Pip Marigold"]
    for result in report.results:
        assert result.intervals is not None
        low, high = result.intervals.mae
        assert low <= result.overall.mae <= high
    payload = report_json(report)
    assert payload["likelihood_reference"] == ["Pip Marigold"]
    assert payload["results"][0]["intervals"]["resamples"] == 100
    json.dumps(payload)  # JSON-ready
    first = payload["results"][0]
    assert set(first) >= {"method", "condition", "mae", "acc_dim", "acc_full", "characters"}
    # two characters are too few to say a trait follows another: no confound is claimed
    assert first["confounded"] is None
    assert {signal["follows"] for signal in first["trait_signal"].values()} == {None}
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
