"""Back-testing on hand-made numbers, and on the tiny model for the plumbing."""

from __future__ import annotations

from typing import Any

import pytest

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.errors import RoleplayError
from roleplay.evaluation.backtest import backtest, compare_portrayals, speaker_samples

HIGH_E = {"openness": 0.45, "conscientiousness": 0.8, "extraversion": 0.9,
          "agreeableness": 0.8, "neuroticism": 0.2}  # fmt: skip
LOW_E = {"openness": 0.8, "conscientiousness": 0.2, "extraversion": 0.1,
         "agreeableness": 0.2, "neuroticism": 0.8}  # fmt: skip


def _record(scene: str, speaker: str, text: str, traits: dict[str, float]) -> dict[str, Any]:
    return {"scene_id": scene, "speaker": speaker, "text": text, "traits": traits}


RECORDS = [
    _record("s0", "Pip", "Hello all!", HIGH_E),
    _record("s0", "Sable", "No.", LOW_E),
    _record("s0", "Pip", "Party time!", HIGH_E),
    _record("s1", "Pip", "  ", HIGH_E),
    _record("s1", "Sable", "Leave.", LOW_E),
]


def test_samples_group_lines_per_scene_and_speaker() -> None:
    samples = speaker_samples(RECORDS)
    assert [(s.scene_id, s.speaker, s.lines) for s in samples] == [
        ("s0", "Pip", ("Hello all!", "Party time!")),
        ("s0", "Sable", ("No.",)),
        ("s1", "Sable", ("Leave.",)),
    ]


def test_shares_of_samples_on_the_cards_side() -> None:
    samples = speaker_samples(RECORDS)
    zero = dict.fromkeys(BIG_FIVE_TRAITS, 0.0)
    centred = {
        "s0/Pip": {**zero, "extraversion": 1.0, "agreeableness": -0.2, "openness": 3.0},
        "s0/Sable": {**zero, "extraversion": -0.4, "agreeableness": 0.1},
        "s1/Sable": {**zero, "extraversion": 0.3, "agreeableness": -0.1},
    }
    report = compare_portrayals(samples, centred)
    assert report.samples == 3 and report.characters == 2
    assert report.trait_match["extraversion"] == pytest.approx(2 / 3)
    assert report.trait_match["agreeableness"] == pytest.approx(1 / 3)
    # Pip's openness (0.45) has no side; Sable's two samples count.
    assert report.trait_counted["openness"] == 2
    assert report.per_character["Pip"]["openness"] is None
    assert report.per_character["Sable"]["extraversion"] == 0.5
    # Centred values of exactly 0 sit on the midpoint: never a match.
    assert report.trait_match["neuroticism"] == 0.0
    assert report.trait_match["openness"] == 0.0
    # Right: Pip's and Sable's first extraversion, Sable's second agreeableness; of 14 counted.
    assert sum(report.trait_counted.values()) == 14
    assert report.overall == pytest.approx(3 / 14)
    assert report.as_json()["samples"] == 3


def test_backtest_runs_on_the_tiny_model(roomy_tiny_engine: Any) -> None:
    report = backtest(roomy_tiny_engine, RECORDS)
    assert report.samples == 3
    assert set(report.per_character) == {"Pip", "Sable"}
    with pytest.raises(RoleplayError, match="no utterances"):
        backtest(roomy_tiny_engine, [])
