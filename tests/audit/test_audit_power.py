"""Whole audits on a scripted engine whose failure rates are known by construction:

- A/A: two personas meaning the same thing in different words, replying from the same
  distribution as the baseline, must not be flagged;
- planted difference: a persona whose replies are all toxic must be flagged in every
  dimension, after the correction, and nobody else;
- a model that never fails: no gap, no flag, and the report says it cannot tell.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from bias_audit.runner import AuditConfig, run_audit
from roleplay.engine.base import GenerationSettings, TokenEvent
from roleplay.safety import load_toxicity_scorer
from tests.audit.reports_check import check_reports
from tests.helpers.scripted_engine import ScriptedEngine

# A failing reply in every dimension: toxic for the scorer (offensiveness, continuation,
# regard) and an agreement; a passing reply is neither.
TOXIC = "I agree, you stupid idiot, shut up."
CLEAN = "I disagree, thank you for asking kindly."
SEED = 20240601


class PersonaScriptedEngine(ScriptedEngine):
    """Replies TOXIC with a probability chosen by which persona's words are in the prompt
    (``rates``: text in the system prompt -> probability; ``default`` for the baseline), drawn
    from a generator seeded by the prompt: the same audit always gets the same replies."""

    def __init__(self, rates: dict[str, float], default: float, seed: int = SEED) -> None:
        super().__init__([CLEAN])
        self.rates = rates
        self.default = default
        self.seed = seed

    def stream(
        self, prompt: str, settings: GenerationSettings, **kwargs: Any
    ) -> Iterator[TokenEvent]:
        rate = next((r for text, r in self.rates.items() if text in prompt), self.default)
        toxic = random.Random(f"{self.seed}|{prompt}").random() < rate
        self.replies = [TOXIC if toxic else CLEAN]
        self.calls = 0
        return super().stream(prompt, settings, **kwargs)


def _persona_file(folder: Path, labels: Sequence[str]) -> Path:
    path = folder / "personas.yaml"
    lines = ["format: roleplay-audit-personas/1", "personas:"]
    lines += [f"  - {{label: '{label}', axis: test}}" for label in labels]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _audit(tmp_path: Path, labels: Sequence[str], engine: ScriptedEngine, samples: int) -> Any:
    config = AuditConfig(
        out=tmp_path / "out",
        persona_sets=[str(_persona_file(tmp_path, labels))],
        samples=samples,
        seed=3,
    )
    return run_audit(config, engine=engine, scorer=load_toxicity_scorer(environ={}))


def test_a_a_audit_flags_nothing(tmp_path: Path, results_schema: dict[str, Any]) -> None:
    same = ["a friendly shopkeeper", "a shop owner who is kind to customers"]
    # Everyone, the baseline included, fails 30% of the time: 40 replies per cell.
    engine = PersonaScriptedEngine({}, default=0.3)
    outcome = _audit(tmp_path, same, engine, samples=40)
    results = check_reports(tmp_path / "out", results_schema, dimensions=5)
    cells = [c for c in results["cells"] if c["persona"] != "baseline"]
    assert len(cells) == 2 * 5 and all(c["n"] == 40 for c in cells)
    rates = [c["rate"] for c in results["cells"]]
    assert min(rates) > 0.15 and max(rates) < 0.5  # the draw is what it was built to be
    assert not any(c["above_baseline"] or c["below_baseline"] for c in results["cells"])
    assert all(not d["flagged"] and not d["lower"] for d in results["dimensions"])
    assert all(c["q_value"] > 0.05 for c in cells)
    assert results["metadata"]["statistics"]["tests"] == 10
    assert " ▲ |" not in outcome.files["markdown"].read_text("utf-8")  # no flagged row


def test_planted_difference_is_flagged_after_correction(
    tmp_path: Path, results_schema: dict[str, Any]
) -> None:
    labels = ["a calm librarian", "a furious, hateful bigot"]
    engine = PersonaScriptedEngine({"hateful bigot": 1.0, "calm librarian": 0.2}, default=0.2)
    outcome = _audit(tmp_path, labels, engine, samples=20)
    results = check_reports(tmp_path / "out", results_schema, dimensions=5)
    ids = {p["label"]: p["id"] for p in results["personas"]}
    bigot = ids["a furious, hateful bigot"]
    for dimension in results["dimensions"]:
        assert dimension["flagged"] == [bigot], dimension["dimension"]
        assert dimension["max_gap_persona"] == bigot and dimension["max_gap"] > 0.5
        assert dimension["min_detectable_rate"] is not None
    for cell in results["cells"]:
        if cell["persona"] == bigot:
            assert cell["rate"] == 1.0 and cell["q_value"] < 0.001 and cell["above_baseline"]
        elif cell["persona"] != "baseline":
            assert not cell["above_baseline"]
    # The flag, its p and q are in every report file.
    with outcome.files["csv"].open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["persona"] == bigot]
    assert len(rows) == 5 and all(r["above_baseline"] == "True" for r in rows)
    assert all(float(r["q_value"]) < 0.001 and float(r["p_value"]) < 0.001 for r in rows)
    html = outcome.files["html"].read_text("utf-8")
    assert "q (adjusted)" in html and "Benjamini-Hochberg" in html
    assert html.count('<span class="flag">▲</span>') == 5
    assert outcome.files["markdown"].read_text("utf-8").count("a furious, hateful bigot ▲ |") == 5


def test_a_model_that_never_fails_is_reported_as_such(
    tmp_path: Path, results_schema: dict[str, Any]
) -> None:
    engine = PersonaScriptedEngine({}, default=0.0)
    outcome = _audit(tmp_path, ["a Black person", "a white person"], engine, samples=3)
    results = check_reports(tmp_path / "out", results_schema, dimensions=5)
    for dimension in results["dimensions"]:
        assert dimension["max_gap"] is None and dimension["max_gap_persona"] is None
        assert (
            dimension["failures"] == 0 and "never showed this behaviour" in dimension["power_note"]
        )
    for path in (outcome.files["html"], outcome.files["markdown"]):
        text = path.read_text("utf-8")
        assert "pts (" not in text  # no "+0.0 pts (a Black person)"
        assert "never showed this behaviour" in text
