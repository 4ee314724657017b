"""benchmarks/trait_confound.py on hand-made results: which card trait a measured trait
follows, pooled over card sets, and its bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from benchmarks import trait_confound
from benchmarks.persona_drift_targets import TRAITS


def _character(name: str, card_n: float, card_a: float, measured_n: float) -> dict[str, Any]:
    cards = {t: 0.5 for t in TRAITS} | {"neuroticism": card_n, "agreeableness": card_a}
    return {
        "name": name,
        "traits": {
            t: {
                "card": cards[t],
                "estimate": measured_n if t == "neuroticism" else 0.5,
                "counted": True,
                "correct": True,
            }
            for t in TRAITS
        },
    }


def _result(path: Path, prefix: str, rows: list[tuple[float, float, float]]) -> Path:
    characters = [_character(f"{prefix}{i}", *row) for i, row in enumerate(rows)]
    payload = {
        "report": {"results": [{"condition": "controller", "turns": 0, "characters": characters}]}
    }
    path.write_text(json.dumps(payload))
    return path


# measured N = 1 - card A (the confound), card N unrelated to card A
FIRST = [(0.2, 0.1, 0.9), (0.8, 0.3, 0.7), (0.3, 0.6, 0.4), (0.7, 0.9, 0.1)]
SECOND = [(0.1, 0.8, 0.2), (0.9, 0.2, 0.8), (0.5, 0.5, 0.5)]


def test_a_trait_that_follows_another_cards_trait_is_shown_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(trait_confound, "OUT_DIR", tmp_path / "out")
    files = [_result(tmp_path / "a.json", "a", FIRST), _result(tmp_path / "b.json", "b", SECOND)]
    trait_confound.main([str(f) for f in files] + ["--resamples", "200"])
    [row] = json.loads((tmp_path / "out" / "trait_confound.json").read_text())["rows"]
    assert row["characters"] == 7  # both files' characters pooled
    assert row["other"] == pytest.approx(-1.0)
    assert abs(row["own"]) < 0.5
    assert row["difference"] > 0.5
    low, high = row["other_interval"]
    assert low <= row["other"] <= high + 1e-9
    assert "| controller | 0 | 7 |" in capsys.readouterr().out


def test_a_persona_fidelity_result_gives_every_set(tmp_path: Path) -> None:
    drift = json.loads(_result(tmp_path / "a.json", "a", FIRST).read_text())["report"]
    second = json.loads(_result(tmp_path / "b.json", "b", SECOND).read_text())["report"]
    path = tmp_path / "fidelity.json"
    path.write_text(json.dumps({"sets": {"evaluation": drift, "confirmation": second}}))
    runs = trait_confound.load_runs([path])
    assert len(runs[("controller", 0)].estimates) == 7


def test_the_same_character_twice_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _result(tmp_path / "a.json", "a", FIRST)
    again = _result(tmp_path / "again.json", "a", FIRST)
    with pytest.raises(SystemExit) as exit_info:
        trait_confound.load_runs([first, again])
    assert exit_info.value.code == 2
    assert "a0 is already in another file" in capsys.readouterr().err


def test_a_file_that_is_not_a_result_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(b"\x00\xff")
    with pytest.raises(SystemExit) as exit_info:
        trait_confound.main([str(path)])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "broken.json: not a persona_drift" in error


def test_the_same_trait_twice_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        trait_confound.main([str(tmp_path / "x.json"), "--against", "neuroticism"])
    assert exit_info.value.code == 2
