"""The fluency calibration end to end on the default model, as small as it goes (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_a_quick_calibration_runs_and_writes_nothing_but_its_result(bench_out: Path) -> None:
    from benchmarks import steering_fluency
    from roleplay.control.attributes import bundled_attributes_dir

    before = {p.name: p.read_bytes() for p in bundled_attributes_dir().glob("*.yaml")}
    steering_fluency.main(["--quick", "--attributes", "sentiment", "--threads", "2"])
    result = json.loads((bench_out / "steering_fluency.json").read_text())
    assert result["quick"] and result["seeds"] == [1234] and result["n_pairs"] == 2
    assert result["machine"]["cores"]  # machine info recorded like the other scripts
    row = result["attributes"]["sentiment"]
    for direction in ("positive", "negative"):
        tried = row[direction]["tried"]
        assert tried[0]["strength"] == result["max_strength"]
        assert all(t["ppl_ratio"] > 0 and len(t["replies"]) == 2 for t in tried)
        assert row[direction]["bound"] in result["strengths"]
    assert {p.name: p.read_bytes() for p in bundled_attributes_dir().glob("*.yaml")} == before
    with pytest.raises(SystemExit, match="cannot --write"):
        steering_fluency.main(["--quick", "--write"])
