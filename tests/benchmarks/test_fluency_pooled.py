"""Fluency pooled over held-out checks: reading check files, pooling, the verdict, the table,
and (slow) a real check rescored and pooled end to end on the default model."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from benchmarks import fluency_pooled


def _check_file(tmp_path: Path, **changes: Any) -> Path:
    from benchmarks.steering_llama_cpp import load_prompts

    listed = load_prompts("fourth")
    seeds = listed["seeds"][:2]
    baseline = [f"reply {i}" for i in range(2 * len(seeds))]
    data: dict[str, Any] = {
        "prompt_set": "fourth",
        "system_prompt": listed["system_prompt"],
        "prompts": 2,
        "seeds": seeds,
        "model": "SmolLM2",
        "strength": 1.0,
        "baseline_replies": baseline,
        "attributes": {
            "formality": {
                "scope": "all",
                "applied": {"plus": 1.0, "minus": -0.8},
                "ppl_ratio_plus": 1.1,
                "ppl_ratio_minus": 1.2,
                "replies": {"+": list(baseline), "-": list(baseline)},
            },
            "formality, reply only": {"scope": "reply", "replies": {"+": [], "-": []}},
        },
    }
    data.update(changes)
    path = tmp_path / "check.json"
    path.write_text(json.dumps(data))
    return path


def test_a_check_file_gives_its_prompts_and_directions(tmp_path: Path) -> None:
    from benchmarks.steering_llama_cpp import load_prompts

    check = fluency_pooled.read_check(_check_file(tmp_path))
    assert check.prompts == load_prompts("fourth")["prompts"][:2]
    assert sorted(check.directions) == ["formality +", "formality -"]  # reply-only rows left out
    replies, stored, strength = check.directions["formality -"]
    assert (len(replies), stored, strength) == (4, 1.2, 0.8)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x00\xff binary", "not a readable JSON result"),
        (b"[1, 2]", "expected an object"),
        (b'{"prompt_set": "fourth"}', "no system_prompt, prompts, seeds"),
    ],
)
def test_a_file_that_is_not_a_check_is_one_clear_error(
    tmp_path: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "other.json"
    path.write_bytes(content)
    with pytest.raises(SystemExit, match=message) as raised:
        fluency_pooled.read_check(path)
    assert str(path) in str(raised.value)


def test_a_check_whose_prompts_file_changed_or_whose_replies_are_short_is_refused(
    tmp_path: Path,
) -> None:
    with pytest.raises(SystemExit, match="system prompt has changed"):
        fluency_pooled.read_check(_check_file(tmp_path, system_prompt="Another one."))
    with pytest.raises(SystemExit, match="3 unsteered replies for 2 x 2"):
        fluency_pooled.read_check(_check_file(tmp_path, baseline_replies=["a", "b", "c"]))
    with pytest.raises(SystemExit, match="unknown prompt set 'sixth'"):
        fluency_pooled.read_check(_check_file(tmp_path, prompt_set="sixth"))
    with pytest.raises(SystemExit, match="a malformed steering_llama_cpp result"):
        fluency_pooled.read_check(_check_file(tmp_path, attributes={"formality": {"scope": "all"}}))
    with pytest.raises(SystemExit, match="no such result file"):
        fluency_pooled.locate(str(tmp_path / "missing.json"))


def test_each_checks_prompts_are_their_own_clusters() -> None:
    values, clusters = fluency_pooled.pool([([0.1, 0.2, 0.3], [0, 0, 1]), ([0.4, 0.5], [0, 1])])
    assert values == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert clusters == [0, 0, 1, 2, 3]


def test_the_verdict_needs_the_interval_beyond_the_budget() -> None:
    assert fluency_pooled.verdict([1.21, 1.4], 1.2) == "above"
    assert fluency_pooled.verdict([1.05, 1.2], 1.2) == "within"
    assert fluency_pooled.verdict([1.1, 1.3], 1.2) == "not told apart"
    assert fluency_pooled.ratio(fluency_pooled.gaps([2.0, 2.2], [2.0, 2.0])) == pytest.approx(
        math.exp(0.1)
    )


def test_the_table_shows_each_check_the_pool_and_the_counts() -> None:
    payload = {
        "machine": {"cpu": "Intel Xeon", "cores": 2, "written": "2026-12-06T21:00:00+00:00"},
        "command": "python -m benchmarks.fluency_pooled a.json b.json",
        "model": "SmolLM2",
        "budget": 1.2,
        "files": [
            {
                "prompt_set": "fourth",
                "n_pairs": 72,
                "directions": {"formality -": {"rescored": 1.23, "strength": 0.8}},
            },
            {
                "prompt_set": "fifth",
                "n_pairs": 144,
                "directions": {"formality -": {"rescored": 1.14, "strength": 0.8}},
            },
        ],
        "directions": {
            "formality -": {
                "n": 216,
                "ratio": 1.17,
                "ratio_95": [1.1, 1.25],
                "ratio_95_cluster_prompts": [1.08, 1.27],
                "verdict": "not told apart",
            }
        },
    }
    table = fluency_pooled.markdown(payload)
    assert "fourth (n 72) + fifth (n 144)" in table
    assert (
        "| formality - | 0.8 | 1.23 | 1.14 | 216 | 1.17 [1.10, 1.25] | {1.08, 1.27} | "
        "**not told apart** |" in table
    )
    assert "above: 0; within: 0; not told apart: 1." in table


@pytest.mark.slow
def test_a_real_check_pooled_with_itself_reads_its_own_ratio(bench_out: Path) -> None:
    from benchmarks import steering_llama_cpp

    arguments = ["--quick", "--attributes", "sentiment", "--prompt-set", "fifth"]
    steering_llama_cpp.main([*arguments, "--tokens", "12"])
    check = bench_out / "steering_llama_cpp_fifth.json"
    stored = json.loads(check.read_text())["attributes"]["sentiment"]
    fluency_pooled.main([str(check), str(check)])
    pooled = json.loads((bench_out / "fluency_pooled.json").read_text())
    for direction, sign in (("sentiment +", "plus"), ("sentiment -", "minus")):
        row = pooled["directions"][direction]
        assert row["n"] == 2 * stored["n_pairs"]
        # The same replies twice: the pooled ratio is the check's own, rescored.
        assert row["ratio"] == pytest.approx(stored[f"ppl_ratio_{sign}"], abs=0.01)
        for each in pooled["files"]:
            assert each["directions"][direction]["rescored"] == pytest.approx(row["ratio"])
        assert row["verdict"] in ("above", "within", "not told apart")
