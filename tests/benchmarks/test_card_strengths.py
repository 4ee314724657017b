"""Which cards a change of bounds steers differently: the comparison and its table (no
model is loaded: readings are built here)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from benchmarks import card_strengths

ROOT = Path(__file__).resolve().parents[2]


def test_a_trait_counts_as_changed_only_beyond_the_rounding() -> None:
    before = {
        "12": {"conscientiousness": 0.65, "openness": -0.5},
        "15": {"conscientiousness": 0.67},
    }
    after = {"12": {"conscientiousness": 0.5, "openness": -0.503}, "15": {"conscientiousness": 0.5}}
    moved = card_strengths.changes(before, after)
    assert moved == {"conscientiousness": {"12": [0.65, 0.5], "15": [0.67, 0.5]}}


def test_a_trait_added_or_removed_is_a_change() -> None:
    moved = card_strengths.changes({"12": {"sentiment": 0.3}}, {"12": {}})
    assert moved == {"sentiment": {"12": [0.3, 0.0]}}


def test_unchanged_cards_are_not_listed_and_layers_that_agree_read_once() -> None:
    payload = {
        "machine": {"cpu": "Intel Xeon", "cores": 2, "written": "2026-12-06T18:00:00+00:00"},
        "command": "python -m benchmarks.card_strengths --before abc",
        "model": "SmolLM2",
        "before": "abc",
        "rules": ["requested", "steered"],
        "card_sets": ["evaluation"],
        "readings": {"after": {"Agnes": {}, "Bertie": {}}, "before": {"Agnes": {}, "Bertie": {}}},
        "changed": {
            "requested": {"Agnes": {"conscientiousness": {"12": [0.65, 0.5], "15": [0.65, 0.5]}}},
            "steered": {},
        },
    }
    table = card_strengths.markdown(payload)
    assert "| requested | 1 of 2 | Agnes (conscientiousness +0.65 -> +0.50) |" in table
    assert "| steered | 0 of 2 | - |" in table


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_the_earlier_files_are_the_revisions_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    names = card_strengths.attribute_files_at("HEAD", tmp_path)
    assert "conscientiousness.yaml" in names
    shown = subprocess.run(
        ["git", "show", "HEAD:roleplay/control/data/attributes/conscientiousness.yaml"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert (tmp_path / "conscientiousness.yaml").read_text(encoding="utf-8") == shown


@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs the git checkout")
def test_an_unknown_revision_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    with pytest.raises(SystemExit, match="--before no-such-revision: no roleplay/control"):
        card_strengths.attribute_files_at("no-such-revision", tmp_path)
