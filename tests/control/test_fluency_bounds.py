"""Fluency bounds per attribute and direction: the data, the clipping, the CLI warning, and
the calibration script's choice and file writing (no model is loaded here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from benchmarks import steering_fluency
from roleplay.control.attributes import (
    FluencyBound,
    bundled_attributes_dir,
    fluency_bounds,
    load_attribute_file,
    load_attributes,
    parse_attribute,
    user_attributes_dir,
)
from roleplay.control.config import load_config
from roleplay.control.strengths import resolve_strengths, strength_bound
from roleplay.errors import FileProblemsError
from tests.control.conftest import make_card
from tests.control.test_attributes import attribute_yaml

KNOWN = ["extraversion", "formality", "neuroticism", "sentiment"]
BOUNDS = {
    "formality": FluencyBound(positive=0.9, negative=0.7),
    "neuroticism": FluencyBound(negative=0.8),
}


def with_bound(bound: str) -> str:
    return attribute_yaml().replace("pairs:\n", f"max_strength: {bound}\npairs:\n")


# The data -----------------------------------------------------------------------------------


def test_a_bound_is_read_per_direction_and_is_optional(tmp_path: Path) -> None:
    spec = parse_attribute(with_bound("{positive: 0.9, negative: 0.7}"), tmp_path / "b.yaml")
    assert spec.max_strength == FluencyBound(positive=0.9, negative=0.7)
    one = parse_attribute(with_bound("{negative: 1}"), tmp_path / "b.yaml")
    assert one.max_strength == FluencyBound(negative=1.0)
    assert parse_attribute(attribute_yaml(), tmp_path / "b.yaml").max_strength == FluencyBound()
    # The bound limits how hard the vector is applied: it does not change the vector.
    assert spec.data_hash == parse_attribute(attribute_yaml(), tmp_path / "b.yaml").data_hash


@pytest.mark.parametrize(
    ("bound", "message"),
    [
        ("{negative: 0}", "'max_strength.negative' must be a positive number, got 0"),
        ("{positive: -0.5}", "'max_strength.positive' must be a positive number, got -0.5"),
        ("{positive: lots}", "'max_strength.positive' must be a positive number, got 'lots'"),
        ("{positive: .nan}", "'max_strength.positive' must be a positive number"),
        ("{positive: true}", "'max_strength.positive' must be a positive number, got True"),
        ("{up: 0.5}", "'max_strength.up' is not a direction (use positive or negative)"),
        ("0.8", "'max_strength' must be a mapping of directions to bounds"),
    ],
)
def test_a_bad_bound_is_one_line_naming_the_file_and_field(
    tmp_path: Path, bound: str, message: str
) -> None:
    path = tmp_path / "bravery.yaml"
    path.write_text(with_bound(bound))
    with pytest.raises(FileProblemsError) as caught:
        load_attribute_file(path)
    text = str(caught.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:4:")  # the line of max_strength
    assert message in text


def test_bundled_bounds_are_below_the_global_bound() -> None:
    cap = load_config().max_strength
    for name, bound in fluency_bounds(load_attributes([bundled_attributes_dir()])).items():
        for value in (bound.positive, bound.negative):
            assert value is None or 0 < value < cap, name


# Clipping -----------------------------------------------------------------------------------


def test_each_attribute_is_clipped_to_its_own_bound_for_its_sign() -> None:
    resolved = resolve_strengths(
        None,
        {"formality": -1.0, "neuroticism": 1.0, "sentiment": -0.5, "extraversion": 3.0},
        KNOWN,
        max_strength=1.0,
        bounds=BOUNDS,
    )
    assert resolved.strengths == {
        "formality": -0.7,  # its negative bound
        "neuroticism": 1.0,  # its positive direction has no bound of its own: the global one
        "sentiment": -0.5,  # within bounds: untouched
        "extraversion": 1.0,  # no bound of its own: the global one
    }
    assert resolved.bounds == {
        "formality": 0.7,
        "neuroticism": 1.0,
        "sentiment": 1.0,
        "extraversion": 1.0,
    }
    assert resolved.clipped == {"formality": -1.0, "extraversion": 3.0}
    positive = resolve_strengths(None, {"formality": 2.0}, KNOWN, max_strength=1.0, bounds=BOUNDS)
    assert positive.strengths == {"formality": 0.9}


def test_card_strengths_are_clipped_per_direction_too() -> None:
    card = make_card({"neuroticism": 0.0, "extraversion": 0.0})  # both ask for -1
    resolved = resolve_strengths(card, None, KNOWN, max_strength=1.0, bounds=BOUNDS)
    assert resolved.strengths == {"neuroticism": -0.8, "extraversion": -1.0}


def test_the_global_bound_caps_an_attributes_own() -> None:
    assert strength_bound("formality", 2.0, 0.5, BOUNDS) == 0.5
    assert strength_bound("formality", -2.0, 1.0, BOUNDS) == 0.7
    assert strength_bound("sentiment", -2.0, 1.0, BOUNDS) == 1.0
    assert strength_bound("formality", -2.0, 1.0, None) == 1.0
    resolved = resolve_strengths(None, {"formality": 2.0}, KNOWN, max_strength=0.5, bounds=BOUNDS)
    assert resolved.strengths == {"formality": 0.5}


def test_a_user_file_brings_its_own_bound(scratch_home: Path) -> None:
    folder = user_attributes_dir()
    folder.mkdir(parents=True)
    (folder / "bravery.yaml").write_text(with_bound("{positive: 0.6}"))
    specs = load_attributes()
    resolved = resolve_strengths(
        None,
        {"bravery": 1.0},
        specs,
        max_strength=load_config().max_strength,
        bounds=fluency_bounds(specs),
    )
    assert resolved.strengths == {"bravery": 0.6}


def _rule(monkeypatch: pytest.MonkeyPatch, bounds_on: str) -> None:
    """steering.yaml as shipped but with ``attribute_bounds_on`` set to ``bounds_on``."""
    from dataclasses import replace

    import roleplay.control.controller as controller_module

    shipped = load_config()
    monkeypatch.setattr(
        controller_module,
        "load_config",
        lambda path=None: replace(shipped, attribute_bounds_on=bounds_on),
    )


@pytest.mark.usefixtures("no_hooks_left")
@pytest.mark.parametrize("bounds_on", ["requested", "steered"])
def test_one_attribute_alone_is_steered_within_its_bound_under_either_rule(
    tiny: Any, scratch_home: Path, monkeypatch: pytest.MonkeyPatch, bounds_on: str
) -> None:
    from roleplay.control.controller import Controller

    _rule(monkeypatch, bounds_on)
    _bounded_home("{negative: 0.7}")
    controller = Controller.for_card(tiny, None, {"formality": -1.0}, layers=(1, 2))
    info = controller.describe()
    steering = info["steering"]
    assert steering["attribute_bounds_on"] == bounds_on
    assert steering["bounds"] == {"formality": 0.7}
    # What the attribute is steered at is its bound either way (one attribute alone is not
    # scaled by the combined bound); only where the limit is applied differs.
    assert steering["steered"] == {"1": {"formality": -0.7}, "2": {"formality": -0.7}}
    if bounds_on == "requested":
        assert steering["strengths"] == {"formality": -0.7}
        assert steering["clipped_from"] == {"formality": -1.0}
    else:
        assert steering["strengths"] == {"formality": -1.0}
        assert any("own fluency bound as steered: formality (0.7)" in n for n in info["notes"])
    controller.set_overrides({"formality": 1.0})  # the other direction: the global bound
    steering = controller.describe()["steering"]
    cap = load_config().max_strength
    assert steering["strengths"] == {"formality": cap}
    assert steering["bounds"] == {"formality": cap}


@pytest.mark.usefixtures("no_hooks_left")
def test_a_card_is_bounded_once_as_steered_and_twice_as_requested(
    tiny: Any, scratch_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under ``requested`` a trait is clipped to its bound and then scaled down again with
    the card's sum; under ``steered`` it is scaled first and limited only where the scaled
    strength is still above its bound."""
    from roleplay.control.controller import Controller

    _bounded_home("{negative: 0.7}")
    strengths = {"formality": -1.0, "sentiment": 1.0, "extraversion": 1.0}
    steered: dict[str, dict[str, dict[str, float]]] = {}
    for rule in ("requested", "steered"):
        _rule(monkeypatch, rule)
        controller = Controller.for_card(tiny, None, strengths, layers=(1, 2))
        steered[rule] = controller.describe()["steering"]["steered"]
        assert controller.rescaled_layers  # three unit strengths are past the combined bound
        for at_layer in steered[rule].values():
            assert -0.7 <= at_layer["formality"] < 0
    for layer, at_layer in steered["steered"].items():
        # Scaled once (and limited to 0.7 only if the scaling left it above): never below
        # the twice-bounded strength of the requested rule.
        assert abs(at_layer["formality"]) >= abs(steered["requested"][layer]["formality"]) - 1e-9


@pytest.mark.usefixtures("no_hooks_left")
@pytest.mark.parametrize("bounds_on", ["requested", "steered"])
def test_a_rule_asked_of_for_card_steers_as_the_same_rule_in_steering_yaml(
    tiny: Any, scratch_home: Path, monkeypatch: pytest.MonkeyPatch, bounds_on: str
) -> None:
    """``attribute_bounds_on=`` (what the bounds' benchmarks read both rules with) gives
    exactly the controller steering.yaml's setting gives."""
    from roleplay.control.controller import Controller

    _bounded_home("{negative: 0.7}")
    strengths = {"formality": -1.0, "sentiment": 1.0, "extraversion": 1.0}
    asked = Controller.for_card(
        tiny, None, strengths, layers=(1, 2), attribute_bounds_on=bounds_on
    ).describe()
    _rule(monkeypatch, bounds_on)
    configured = Controller.for_card(tiny, None, strengths, layers=(1, 2)).describe()
    assert asked["steering"] == configured["steering"]
    assert asked["steering"]["attribute_bounds_on"] == bounds_on


# The CLI warning ----------------------------------------------------------------------------


def _bounded_home(bound: str) -> None:
    """A user ``formality`` attribute with the given bound (it replaces the bundled one)."""
    folder = user_attributes_dir()
    folder.mkdir(parents=True)
    text = attribute_yaml("formality").replace("pairs:\n", f"max_strength: {bound}\npairs:\n")
    (folder / "formality.yaml").write_text(text, encoding="utf-8")


def _warnings(capsys: pytest.CaptureFixture[str], overrides: dict[str, float]) -> list[str]:
    from roleplay.cli.options import warn_clipped_strengths

    warn_clipped_strengths(overrides)
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


def test_the_warning_names_the_attributes_own_bound(
    scratch_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _bounded_home("{negative: 0.7}")
    assert _warnings(capsys, {"formality": -0.9}) == [
        "warning: --steer formality=-0.9 is outside formality's fluency bound -0.7..+1 "
        "(max_strength in formality.yaml); clipped to -0.7"
    ]
    assert _warnings(capsys, {"formality": 0.9, "extraversion": -0.5}) == []


def test_the_warning_without_an_own_bound_gives_the_global_range(
    scratch_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every bundled attribute has a bound of its own in some direction now; a user's
    # attribute file without one gets the global range.
    folder = user_attributes_dir()
    folder.mkdir(parents=True)
    (folder / "bravery.yaml").write_text(attribute_yaml("bravery"), encoding="utf-8")
    assert _warnings(capsys, {"bravery": 5.0}) == [
        "warning: --steer bravery=5 is outside -1..+1; clipped to +1"
    ]


# The calibration script ---------------------------------------------------------------------


def test_the_choice_is_the_largest_strength_within_budget() -> None:
    choose = steering_fluency.choose_bound
    assert choose({1.0: 1.24, 0.9: 1.18, 0.8: 1.12, 0.7: 1.05}, 1.15) == 0.8
    assert choose({1.0: 1.10}, 1.15) == 1.0
    assert choose({1.0: 1.15}, 1.15) == 1.0  # at the budget counts as within
    assert choose({0.5: 1.1, 1.0: 1.3, 0.7: 1.14, 0.9: 1.16}, 1.15) == 0.7  # any order
    assert choose({1.0: 1.3, 0.5: 1.2}, 1.15) is None
    assert choose({}, 1.15) is None


def test_the_interval_rule_reads_the_upper_end_and_the_point_rule_the_ratio() -> None:
    tried = {"strength": 1.0, "ppl_ratio": 1.12, "ppl_ratio_95": [1.03, 1.22]}
    assert steering_fluency.rule_statistic(tried, "interval") == 1.22
    assert steering_fluency.rule_statistic(tried, "point") == 1.12
    # Within the old rule's 1.15 budget, over the interval rule's 1.2: the interval rule
    # needs the target met beyond the calibration's noise.
    assert steering_fluency.BUDGETS == {"interval": 1.2, "point": 1.15}
    point = steering_fluency.rule_statistic(tried, "point")
    upper = steering_fluency.rule_statistic(tried, "interval")
    assert point <= steering_fluency.BUDGETS["point"] < steering_fluency.BUDGETS["interval"] < upper


def test_evaluation_seeds_are_refused() -> None:
    assert steering_fluency.check_seeds([1234, 1235]) == [1234, 1235]
    with pytest.raises(SystemExit, match="evaluation seeds"):
        steering_fluency.check_seeds([1234, 502])
    with pytest.raises(SystemExit, match="evaluation seeds"):
        steering_fluency.check_seeds([1239, 604])  # the second (holdout) set's
    with pytest.raises(SystemExit, match="evaluation seeds"):
        steering_fluency.check_seeds([1240, 803])  # the fourth set's
    with pytest.raises(SystemExit, match="evaluation seeds"):
        steering_fluency.check_seeds([1240, 906])  # the fifth set's


def test_the_fourth_evaluation_set_is_never_calibration_material() -> None:
    with pytest.raises(SystemExit, match="kept for checking bounds"):
        steering_fluency.prompt_set_data("fourth")
    with pytest.raises(SystemExit, match="kept for checking bounds"):
        steering_fluency.prompt_set_data("fifth")
    with pytest.raises(SystemExit, match="unknown prompt set 'elsewhere'"):
        steering_fluency.prompt_set_data("elsewhere")
    neutral, where = steering_fluency.prompt_set_data("neutral")
    assert where == "roleplay/control/data/eval/neutral_prompts.yaml"
    assert neutral == steering_fluency.calibration_prompts()
    systems = {
        steering_fluency.prompt_set_data(n)[0]["system_prompt"]
        for n in ("neutral", "evaluation", "holdout", "third")
    }
    assert len(systems) == 4  # each set keeps its own system prompt


def test_several_sets_number_their_prompts_in_one_sequence() -> None:
    from types import SimpleNamespace

    def bench(prompts: int, seeds: list[int]) -> SimpleNamespace:
        return SimpleNamespace(
            prompts=["p"] * prompts, pairs=[(p, s) for p in range(prompts) for s in seeds]
        )

    benches = object.__new__(steering_fluency.Benches)
    benches.benches = [bench(2, [1, 2]), bench(1, [1, 2])]  # type: ignore[list-item]
    assert benches.pairs == [(0, 1), (0, 2), (1, 1), (1, 2), (2, 1), (2, 2)]


def test_the_calibration_seeds_are_not_any_evaluation_sets_seeds() -> None:
    from benchmarks.steering_llama_cpp import PROMPT_SETS, load_prompts

    for name in PROMPT_SETS:
        seeds = set(load_prompts(name)["seeds"])
        assert seeds <= set(steering_fluency.EVALUATION_SEEDS), name
        assert not seeds & set(steering_fluency.SEEDS), name


@pytest.mark.parametrize("prompt_set", ["evaluation", "holdout", "third", "fourth", "fifth"])
def test_calibration_prompts_are_not_the_evaluation_prompts(prompt_set: str) -> None:
    from benchmarks.steering_llama_cpp import load_prompts

    calibration = steering_fluency.calibration_prompts()
    evaluation = load_prompts(prompt_set)
    assert not set(calibration["prompts"]) & set(evaluation["prompts"])
    assert calibration["system_prompt"] != evaluation["system_prompt"]
    assert not set(steering_fluency.SEEDS) & set(evaluation["seeds"])


def test_only_directions_below_the_global_bound_are_written() -> None:
    entries = steering_fluency.bound_entries({"positive": 1.0, "negative": 0.8}, 1.0)
    assert entries == {"negative": 0.8}
    assert steering_fluency.bound_entries({"positive": 1.0, "negative": 1.0}, 1.0) == {}


def test_writing_bounds_keeps_the_file_and_can_remove_them(tmp_path: Path) -> None:
    # The bundled file without any bound it may carry: the starting point.
    steering_fluency.unbounded_copies(bundled_attributes_dir(), tmp_path / "plain")
    plain = (tmp_path / "plain" / "formality.yaml").read_text(encoding="utf-8")
    path = tmp_path / "formality.yaml"
    path.write_text(plain, encoding="utf-8")
    assert steering_fluency.write_bound(path, {}) is False  # nothing to write or remove

    written = steering_fluency.write_bounds(
        {"formality": {"positive": 1.0, "negative": 0.7}}, tmp_path, 1.0
    )
    assert written == {"formality": {"negative": 0.7}}
    text = path.read_text(encoding="utf-8")
    assert load_attribute_file(path).max_strength == FluencyBound(negative=0.7)
    assert "casual\n# Fluency bound" in text and "max_strength:\n  negative: 0.7\npairs:\n" in text
    assert [line for line in text.splitlines() if line not in plain.splitlines()] == [
        *(f"# {line}" for line in steering_fluency.BOUND_COMMENT.splitlines()),
        "max_strength:",
        "  negative: 0.7",
    ]  # comments, pairs and long lines untouched
    # Rewriting replaces the numbers; removing restores the plain file byte for byte.
    steering_fluency.write_bound(path, {"negative": 0.6, "positive": 0.9})
    assert load_attribute_file(path).max_strength == FluencyBound(positive=0.9, negative=0.6)
    assert "max_strength:\n  positive: 0.9\n  negative: 0.6\npairs:" in path.read_text()
    assert steering_fluency.write_bound(path, {}) is True
    assert path.read_text(encoding="utf-8") == plain


def test_the_table_shows_every_strength_tried_and_the_bound() -> None:
    def tried(pairs: list[tuple[float, float]]) -> list[dict[str, object]]:
        return [
            {"strength": s, "ppl_ratio": r, "ppl_ratio_95": [r - 0.1, r + 0.1], "distinct2": 0.9}
            for s, r in pairs
        ]

    payload = {
        "machine": {},
        "model": "m",
        "backend": "llama.cpp",
        "threads": 2,
        "method": "control_vectors",
        "date": "d",
        "load_average": [1.0, 2.0],
        "seconds": 10,
        "command": "python -m benchmarks.steering_fluency",
        "prompts_file": "neutral_prompts.yaml",
        "prompts": 12,
        "seeds": [1234],
        "n_pairs": 12,
        "tokens": 48,
        "temperature": 0.7,
        "baseline_perplexity": 4.5,
        "budget": 1.15,
        "target": 1.2,
        "strengths": [1.0, 0.9, 0.8],
        "attributes": {
            "formality": {
                "positive": {"tried": tried([(1.0, 1.1)]), "bound": 1.0, "within_budget": True},
                "negative": {
                    "tried": tried([(1.0, 1.3), (0.9, 1.12)]),
                    "bound": 0.9,
                    "within_budget": True,
                },
            }
        },
    }
    table = steering_fluency.markdown(payload)
    assert "budget 1.15x for the ratio (point estimate)" in table  # no rule: the first runs'
    assert "budget 1.2x for the interval's upper end" in steering_fluency.markdown(
        {**payload, "rule": "interval", "budget": 1.2}
    )
    assert "| formality | positive | 12 | 1.10 [1.00, 1.20] | - | - | **1** |" in table
    assert (
        "| formality | negative | 12 | 1.30 [1.20, 1.40] | 1.12 [1.02, 1.22] | - | **0.9** |"
        in (table)
    )
    assert steering_fluency.chosen_bounds(payload) == {
        "formality": {"positive": 1.0, "negative": 0.9}
    }


def test_an_interrupted_run_resumes_from_its_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from benchmarks import common

    monkeypatch.setattr(common, "OUT_DIR", tmp_path)
    settings: dict[str, Any] = {"model": "m", "seeds": [1234], "tokens": 48}
    first = steering_fluency.Checkpoint(settings, resume=False)
    first.put("unsteered", ["a reply"], [1.5])
    assert steering_fluency.Checkpoint(settings, resume=True).get("unsteered") == (
        ["a reply"],
        [1.5],
    )
    assert steering_fluency.Checkpoint(settings, resume=False).get("unsteered") is None
    other = steering_fluency.Checkpoint({**settings, "tokens": 8}, resume=True)
    assert other.get("unsteered") is None  # made with other settings: not reused
    first.remove()
    assert not list(tmp_path.iterdir())


def test_attribute_bounds_on_must_name_a_rule(tmp_path: Path) -> None:
    import re

    from roleplay.control.config import config_path

    path = tmp_path / "steering.yaml"
    shipped, count = re.subn(
        r"^attribute_bounds_on: \w+$",
        "attribute_bounds_on: sometimes",
        config_path().read_text(),
        flags=re.M,
    )
    assert count == 1
    path.write_text(shipped)
    with pytest.raises(FileProblemsError, match="'attribute_bounds_on' must be one of"):
        load_config(path)
    path.write_text(re.sub(r"^attribute_bounds_on: \w+$", "", shipped, flags=re.M))
    assert load_config(path).attribute_bounds_on == "requested"  # absent: the earlier rule
