"""benchmarks/steering_crosstalk.py on hand-made persona_fidelity results: a vector that moves
another trait's answers shows up off the diagonal, with an interval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import steering_crosstalk
from benchmarks.persona_drift_targets import TRAITS

# Twelve cards on which agreeableness and neuroticism vary independently (r = 0).
A_AND_N = [(0.9, 0.9), (0.9, 0.1), (0.1, 0.9), (0.1, 0.1), (0.8, 0.8)]
A_AND_N += [(0.8, 0.2), (0.2, 0.8), (0.2, 0.2), (0.85, 0.85), (0.15, 0.15)]
A_AND_N += [(0.85, 0.15), (0.15, 0.85)]


def _cards() -> list[dict[str, float]]:
    cards = []
    for index, (agreeableness, neuroticism) in enumerate(A_AND_N):
        level = 0.1 + 0.08 * index
        cards.append(
            {
                "openness": level,
                "conscientiousness": 0.9 if index % 3 else 0.1,
                "extraversion": 0.9 if index % 2 else 0.1,
                "agreeableness": agreeableness,
                "neuroticism": neuroticism,
            }
        )
    return cards


def _payload(condition_estimates: dict[str, Any], steered: list[str] | None) -> dict[str, Any]:
    results = []
    for condition, estimate in condition_estimates.items():
        characters = []
        for index, card in enumerate(_cards()):
            measured = estimate(card)
            characters.append(
                {
                    "name": f"c{index}",
                    "traits": {
                        t: {
                            "card": card[t],
                            "estimate": measured[t],
                            "counted": abs(card[t] - 0.5) >= 0.1,
                            "correct": (measured[t] > 0.5) == (card[t] > 0.5),
                        }
                        for t in TRAITS
                    },
                }
            )
        results.append({"condition": condition, "characters": characters})
    return {"steered_traits": steered, "sets": {"evaluation": {"results": results}}}


def _prompt_alone(card: dict[str, float]) -> dict[str, float]:
    # follows every card trait weakly: the middle pulled a little toward the card
    return {t: 0.5 + 0.2 * (card[t] - 0.5) for t in TRAITS}


def _agreeableness_alone(card: dict[str, float]) -> dict[str, float]:
    # the agreeableness vector also drives the neuroticism answers, the other way
    return {
        **_prompt_alone(card),
        "agreeableness": card["agreeableness"],
        "neuroticism": 1 - card["agreeableness"],
    }


def _write(folder: Path) -> tuple[Path, Path]:
    baseline = folder / "persona_fidelity.json"
    baseline.write_text(
        json.dumps(_payload({"prompt": _prompt_alone, "controller": _agreeableness_alone}, None))
    )
    steered = folder / "persona_fidelity_steered_agreeableness.json"
    steered.write_text(
        json.dumps(_payload({"controller": _agreeableness_alone}, ["agreeableness"]))
    )
    return baseline, steered


def test_a_vector_that_moves_another_traits_answers_is_shown_off_the_diagonal(
    tmp_path: Path,
) -> None:
    baseline_path, steered_path = _write(tmp_path)
    baseline = steering_crosstalk.load_run(json.loads(baseline_path.read_text()), "prompt", "p")
    steered = steering_crosstalk.load_run(json.loads(steered_path.read_text()), "controller", "a")
    assert steered.steered == "agreeableness"
    own, cells = steering_crosstalk.analyse(baseline, [steered], resamples=500)
    cell = {c.measured: c for c in cells}
    # diagonal: the measured agreeableness follows the card exactly, as before (r = 1 both)
    assert cell["agreeableness"].delta == pytest.approx(0.0, abs=1e-9)
    # off the diagonal: the measured neuroticism now runs against the cards' agreeableness
    neuroticism = cell["neuroticism"]
    assert neuroticism.steered_r == pytest.approx(-1.0)
    assert neuroticism.baseline == pytest.approx(0.0, abs=0.05)  # cards' A and N: r = 0
    assert neuroticism.delta < -0.9
    low, high = neuroticism.interval
    assert low <= neuroticism.delta <= high < 0
    # own-trait rows: neuroticism's own correlation falls to that of A with N on the cards
    assert own[0].correlation["neuroticism"] == pytest.approx(1.0)
    assert abs(own[1].correlation["neuroticism"]) < 0.05
    assert own[1].acc_dim["agreeableness"] == 1.0
    assert 0 < own[1].overall_acc_dim < 1  # neuroticism is wrong on half the cards


def test_main_writes_the_tables_json_and_heat_map(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline, steered = _write(tmp_path)
    monkeypatch.setattr(steering_crosstalk, "OUT_DIR", tmp_path)
    steering_crosstalk.main(
        ["--baseline", str(baseline), "--steered", str(steered), "--resamples", "200"]
    )
    printed = capsys.readouterr().out
    assert "| only agreeableness steered |" in printed
    assert "| agreeableness | " in printed  # the cross-talk row
    result = json.loads((tmp_path / "steering_crosstalk.json").read_text())
    assert result["characters"] == 12
    assert [row["label"] for row in result["own"]] == [
        "prompt alone",
        "all five steered",
        "only agreeableness steered",
    ]
    png = (tmp_path / "steering_crosstalk.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_runs_of_other_characters_are_refused(tmp_path: Path) -> None:
    baseline_path, steered_path = _write(tmp_path)
    baseline = steering_crosstalk.load_run(json.loads(baseline_path.read_text()), "prompt", "p")
    steered = steering_crosstalk.load_run(json.loads(steered_path.read_text()), "controller", "a")
    fewer = steering_crosstalk.Run(
        "a",
        "agreeableness",
        dict(list(steered.estimates.items())[:5]),
        dict(list(steered.cards.items())[:5]),
        dict(list(steered.correct.items())[:5]),
    )
    with pytest.raises(SystemExit, match="not the same characters"):
        steering_crosstalk.analyse(baseline, [fewer], resamples=50)
