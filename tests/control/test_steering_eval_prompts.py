"""The steering benchmark's evaluation prompts share nothing with what built or calibrated
the vectors: no prompt equal, no word 5-gram in common, and other seeds."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from roleplay.control.attributes import bundled_attributes_dir, load_attributes
from roleplay.resources import package_path

ROOT = Path(__file__).resolve().parents[2]
EVAL_PROMPTS = ROOT / "benchmarks" / "data" / "steering_eval_prompts.yaml"
HOLDOUT_PROMPTS = ROOT / "benchmarks" / "data" / "steering_holdout_prompts.yaml"
THIRD_PROMPTS = ROOT / "benchmarks" / "data" / "steering_third_prompts.yaml"
FOURTH_PROMPTS = ROOT / "benchmarks" / "data" / "steering_fourth_prompts.yaml"
FIFTH_PROMPTS = ROOT / "benchmarks" / "data" / "steering_fifth_prompts.yaml"
CONTROL_DATA = package_path("roleplay.control", "data")
STEERING_EFFECT = ROOT / "benchmarks" / "steering_effect.py"
CALIBRATION_SEED = 1234  # benchmarks/steering_effect.py's --seed default (torch.manual_seed)
# The prompts of the first llama.cpp benchmark (seeds 0-3), before it had its own data file.
OLD_PROMPTS = (
    "Tell me about the town you grew up in.",
    "What did you do this morning?",
    "Describe the ship's kitchen.",
    "What do you think about the new recruits?",
    "How was the journey here?",
    "What is the weather like outside?",
)


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _grams(text: str, size: int = 5) -> set[tuple[str, ...]]:
    words = re.findall(r"[a-z0-9']+", text.lower())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def _script_strings(path: Path) -> list[str]:
    """Every string literal of a script (prompts written into its code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


def _calibration_texts() -> list[str]:
    neutral = _yaml(CONTROL_DATA / "eval" / "neutral_prompts.yaml")
    texts = [neutral["system_prompt"], *neutral["prompts"], *OLD_PROMPTS]
    texts.append(_yaml(CONTROL_DATA / "steering.yaml")["extraction_system_prompt"])
    texts += _script_strings(STEERING_EFFECT)
    for spec in load_attributes([bundled_attributes_dir()]).values():
        for pair in spec.pairs:
            texts += [pair.question, pair.positive, pair.negative]
    return texts


def _assert_new_to(data: Any, known: list[str]) -> None:
    """At least 12 distinct prompts; neither they nor the system prompt equal a known text
    or share a word 5-gram with one."""
    prompts = data["prompts"]
    assert len(prompts) >= 12
    assert len(set(prompts)) == len(prompts)
    folded = {text.strip().casefold() for text in known}
    for prompt in [data["system_prompt"], *prompts]:
        assert prompt.strip().casefold() not in folded, prompt
        shared = set().union(*(_grams(text) & _grams(prompt) for text in known))
        assert not shared, (prompt, shared)


def _assert_new_to_sets(path: Path, earlier: list[Path]) -> None:
    """The set at ``path`` shares no prompt, word 5-gram or seed with the calibration texts
    and the ``earlier`` sets (which may be calibration material now)."""
    data = _yaml(path)
    others = [_yaml(other) for other in earlier]
    known = [*_calibration_texts()]
    for other in others:
        known += [other["system_prompt"], *other["prompts"]]
    _assert_new_to(data, known)
    seeds = data["seeds"]
    assert len(set(seeds)) == len(seeds) >= 6
    for other in others:
        assert not set(seeds) & set(other["seeds"])
    assert not set(seeds) & set(range(1234, 1242))  # benchmarks/steering_fluency.py's


def test_evaluation_prompts_are_disjoint_from_calibration() -> None:
    _assert_new_to(_yaml(EVAL_PROMPTS), _calibration_texts())


def test_the_second_set_shares_nothing_with_calibration_or_the_first_set() -> None:
    """The holdout set was written after the first set had been read for every bound, so it
    must be new to both the calibration and the first set's readings."""
    _assert_new_to_sets(HOLDOUT_PROMPTS, [EVAL_PROMPTS])  # seeds 1234-1241 include 1234


def test_the_third_set_shares_nothing_with_calibration_or_the_other_sets() -> None:
    """The first two sets may be calibration material now; the third must be new to all."""
    _assert_new_to_sets(THIRD_PROMPTS, [EVAL_PROMPTS, HOLDOUT_PROMPTS])


def test_the_fourth_set_shares_nothing_with_calibration_or_the_other_sets() -> None:
    """The first three sets may be calibration material now; the fourth must be new to all."""
    _assert_new_to_sets(FOURTH_PROMPTS, [EVAL_PROMPTS, HOLDOUT_PROMPTS, THIRD_PROMPTS])


def test_the_fifth_set_shares_nothing_with_calibration_or_the_other_sets() -> None:
    """Twice the prompts of the others, and new to all of them and to the calibration."""
    _assert_new_to_sets(
        FIFTH_PROMPTS, [EVAL_PROMPTS, HOLDOUT_PROMPTS, THIRD_PROMPTS, FOURTH_PROMPTS]
    )
    assert len(_yaml(FIFTH_PROMPTS)["prompts"]) == 24


def test_the_check_would_catch_a_leak() -> None:
    calibration = _calibration_texts()
    leaked = "So, what do you think of this town these days?"  # a neutral prompt, reworded
    assert any(_grams(text) & _grams(leaked) for text in calibration)


def test_evaluation_seeds_differ_from_the_calibration_seeds() -> None:
    seeds = _yaml(EVAL_PROMPTS)["seeds"]
    source = STEERING_EFFECT.read_text(encoding="utf-8")
    assert f'"--seed", type=int, default={CALIBRATION_SEED}' in source  # still its default
    assert CALIBRATION_SEED not in seeds
    assert not set(seeds) & set(range(4))  # the old llama.cpp benchmark's seeds
    assert len(set(seeds)) == len(seeds) >= 3


def test_each_prompt_set_names_its_file_relative_to_the_repository() -> None:
    from benchmarks.steering_llama_cpp import PROMPT_SETS, prompts_file

    assert prompts_file("evaluation") == "benchmarks/data/steering_eval_prompts.yaml"
    assert prompts_file("holdout") == "benchmarks/data/steering_holdout_prompts.yaml"
    assert prompts_file("third") == "benchmarks/data/steering_third_prompts.yaml"
    assert prompts_file("fourth") == "benchmarks/data/steering_fourth_prompts.yaml"
    assert prompts_file("fifth") == "benchmarks/data/steering_fifth_prompts.yaml"
    for name in PROMPT_SETS:
        assert (ROOT / prompts_file(name)).is_file()
