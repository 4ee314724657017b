"""Steering hooks: added for the block only, removed on every exit path, additive."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from roleplay.control.errors import ControlError
from roleplay.control.hooks import add_steering_hooks, steering_applied, steering_hook_count
from roleplay.control.vectors import SteeringSet, SteeringVector

HIDDEN = 32
LAYER = 2


def hook_count(model: Any) -> int:
    return steering_hook_count(model)


def vector(name: str, seed: int, scale: float = 10.0) -> SteeringVector:
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(HIDDEN, generator=generator)
    return SteeringVector(
        attribute=name,
        model_id="tiny",
        directions={LAYER: direction / direction.norm()},
        layer_scales={LAYER: scale},
    )


def layer_output(tiny: Any, text: str = "Hello there") -> torch.Tensor:
    ids = tiny.tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        out = tiny.model(**ids, output_hidden_states=True)
    return out.hidden_states[LAYER + 1]  # [0] is the embeddings


@pytest.mark.usefixtures("no_hooks_left")
def test_hooks_exist_only_inside_the_block(tiny: Any) -> None:
    before = hook_count(tiny.model)
    with vector("a", 0).apply(tiny.model, 1.0) as handle:
        assert hook_count(tiny.model) == before + 1
        assert handle.active
    assert hook_count(tiny.model) == before
    assert not handle.active


@pytest.mark.usefixtures("no_hooks_left")
def test_hooks_removed_when_the_block_raises(tiny: Any) -> None:
    with pytest.raises(RuntimeError, match="boom"), vector("a", 0).apply(tiny.model, 1.0):
        raise RuntimeError("boom")


@pytest.mark.usefixtures("no_hooks_left")
def test_hooks_removed_when_generation_fails_midway(tiny: Any) -> None:
    calls = {"n": 0}

    def failing(_: Any, scores: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # e.g. the user pressed Ctrl-C mid-reply
        return scores

    ids = tiny.tokenizer("Hello", return_tensors="pt")
    with pytest.raises(KeyboardInterrupt), vector("a", 0).apply(tiny.model, 1.0):
        tiny.model.generate(**ids, max_new_tokens=8, do_sample=False, logits_processor=[failing])


@pytest.mark.usefixtures("no_hooks_left")
def test_steering_changes_generation_and_leaves_nothing_behind(tiny: Any) -> None:
    ids = tiny.tokenizer("Hello", return_tensors="pt")

    def greedy() -> list[int]:
        with torch.inference_mode():
            out = tiny.model.generate(**ids, max_new_tokens=6, do_sample=False)
        return out[0].tolist()

    plain = greedy()
    with vector("a", 0, scale=200.0).apply(tiny.model, 1.0):
        steered = greedy()
    assert steered != plain
    assert greedy() == plain  # nothing lingers after the block


def test_delta_is_strength_times_unit_times_layer_scale(tiny: Any) -> None:
    v = vector("a", 0, scale=7.0)
    plain = layer_output(tiny)
    with v.apply(tiny.model, 0.5, unit_relative_norm=0.2):
        steered = layer_output(tiny)
    delta = steered - plain
    expected = v.directions[LAYER] * (0.5 * 0.2 * 7.0)
    torch.testing.assert_close(delta, expected.expand_as(delta), atol=1e-5, rtol=1e-4)


def test_composition_is_additive(tiny: Any) -> None:
    steering = SteeringSet({"a": vector("a", 0), "b": vector("b", 1)}, unit_relative_norm=0.3)
    plain = layer_output(tiny)

    def delta(strengths: dict[str, float]) -> torch.Tensor:
        with steering.apply(tiny.model, strengths):
            return layer_output(tiny) - plain

    both = delta({"a": 1.0, "b": -0.5})
    torch.testing.assert_close(both, delta({"a": 1.0}) + delta({"b": -0.5}), atol=1e-4, rtol=1e-4)


def test_nested_applications_add_up(tiny: Any) -> None:
    a, b = vector("a", 0), vector("b", 1)
    plain = layer_output(tiny)
    with a.apply(tiny.model, 1.0), b.apply(tiny.model, 1.0):
        nested = layer_output(tiny) - plain
    expected = a.deltas(1.0, 1.0)[LAYER] + b.deltas(1.0, 1.0)[LAYER]
    torch.testing.assert_close(nested, expected.expand_as(nested), atol=1e-4, rtol=1e-4)


def test_combined_bound_scales_the_sum_down() -> None:
    a, b = vector("a", 0, scale=10.0), vector("b", 1, scale=10.0)
    capped = SteeringSet({"a": a, "b": b}, unit_relative_norm=0.1, max_combined_strength=1.0)
    combined = capped.combine({"a": 3.0, "b": 3.0})
    assert float(combined.deltas[LAYER].norm()) == pytest.approx(1.0 * 0.1 * 10.0, rel=1e-5)
    assert LAYER in combined.rescaled_layers
    within = capped.combine({"a": 0.5})
    assert within.rescaled_layers == {}
    torch.testing.assert_close(within.deltas[LAYER], a.deltas(0.5, 0.1)[LAYER])


def test_own_bounds_limit_each_attribute_as_steered_after_the_combined_bound() -> None:
    # Orthogonal unit directions: the sum of strengths 1.2 and 1.6 is 2 units long, so the
    # combined bound of 1 scales both by 0.5, to 0.6 and 0.8. Each attribute's own bound
    # then limits that steered strength, not the strength asked for.
    vectors = {"a": _fixed("a", _unit([1.0, 0.0])), "b": _fixed("b", _unit([0.0, 1.0]))}
    capped = SteeringSet(vectors, unit_relative_norm=0.1, max_combined_strength=1.0)
    asked = {"a": 1.2, "b": -1.6}
    plain = capped.combine(asked)
    assert plain.steered[LAYER] == pytest.approx({"a": 0.6, "b": -0.8})
    assert plain.limited == ()
    # a's bound of 0.7 is above its steered 0.6: untouched; b's 0.5 is below its 0.8.
    bounded = capped.combine(asked, {"a": 0.7, "b": 0.5})
    assert bounded.steered[LAYER] == pytest.approx({"a": 0.6, "b": -0.5})
    assert bounded.limited == ("b",)
    assert bounded.rescaled_layers == pytest.approx({LAYER: 0.5})
    delta = bounded.deltas[LAYER]  # one unit is 0.1 x the layer scale of 10
    assert float(delta[0]) == pytest.approx(0.6, abs=1e-5)
    assert float(delta[1]) == pytest.approx(-0.5, abs=1e-5)
    # One attribute alone within the combined bound is steered at min(asked, its bound).
    alone = capped.combine({"b": -0.9}, {"b": 0.5})
    assert alone.steered[LAYER] == pytest.approx({"b": -0.5})
    assert alone.rescaled_layers == {}


def test_the_sum_stays_within_the_combined_bound_after_own_bounds() -> None:
    # Anti-correlated directions: limiting one attribute makes the sum longer, and the
    # combined bound scales it down again.
    a, b = _unit([1.0, 0.0]), _unit([-0.8, 0.6])
    vectors = {"a": _fixed("a", a), "b": _fixed("b", b)}
    capped = SteeringSet(vectors, unit_relative_norm=0.1, max_combined_strength=1.0)
    combined = capped.combine({"a": 2.0, "b": 2.0}, {"b": 0.1})
    assert float(combined.deltas[LAYER].norm()) <= 1.0 * 0.1 * 10.0 + 1e-5
    steered = combined.steered[LAYER]
    assert abs(steered["b"]) <= 0.1 + 1e-9
    assert combined.limited == ("b",)


def test_zero_strength_adds_nothing_and_unknown_names_fail() -> None:
    steering = SteeringSet({"sentiment": vector("sentiment", 0)}, unit_relative_norm=0.1)
    assert steering.combine({"sentiment": 0.0}).deltas == {}
    with pytest.raises(ControlError, match="did you mean 'sentiment'"):
        steering.combine({"sentimant": 1.0})


@pytest.mark.usefixtures("no_hooks_left")
def test_bad_layer_installs_nothing(tiny: Any) -> None:
    good = torch.zeros(HIDDEN)
    with pytest.raises(ControlError, match="do not exist"):
        add_steering_hooks(tiny.model, {0: good, 99: good})
    with pytest.raises(ControlError), steering_applied(tiny.model, {-1: good}):
        pass


def _unit(values: list[float]) -> torch.Tensor:
    tensor = torch.tensor(values + [0.0] * (HIDDEN - len(values)))
    return tensor / tensor.norm()


def _fixed(name: str, direction: torch.Tensor) -> SteeringVector:
    return SteeringVector(name, "tiny", {LAYER: direction}, {LAYER: 10.0})


def test_decorrelated_steering_gives_each_attribute_exactly_its_strength() -> None:
    # Two directions at cosine 0.6: summed, each attribute's own direction receives the
    # other's push as well; decorrelated, each receives its strength and nothing more.
    a, b = _unit([1.0, 0.0]), _unit([0.6, 0.8])
    vectors = {"a": _fixed("a", a), "b": _fixed("b", b)}
    strengths = {"a": 1.0, "b": -0.5}
    summed = SteeringSet(vectors, unit_relative_norm=0.1).combine(strengths).deltas[LAYER]
    decorrelated = (
        SteeringSet(vectors, unit_relative_norm=0.1, combination="decorrelated")
        .combine(strengths)
        .deltas[LAYER]
    )
    # One unit is 0.1 x the layer scale of 10: projections of 1.0 and -0.5 units.
    assert float(decorrelated @ a) == pytest.approx(1.0, abs=1e-5)
    assert float(decorrelated @ b) == pytest.approx(-0.5, abs=1e-5)
    assert float(summed @ a) == pytest.approx(1.0 - 0.5 * 0.6, abs=1e-5)
    assert float(summed @ b) == pytest.approx(-0.5 + 0.6, abs=1e-5)
    # It stays in the plane of the attributes' directions.
    assert float(decorrelated[2:].abs().max()) == 0.0


def test_decorrelated_equals_the_sum_for_orthogonal_directions_and_one_attribute() -> None:
    vectors = {"a": _fixed("a", _unit([1.0, 0.0])), "b": _fixed("b", _unit([0.0, 1.0]))}
    strengths = {"a": 0.7, "b": 0.4}
    summed = SteeringSet(vectors, unit_relative_norm=0.1).combine(strengths).deltas
    decorrelated = (
        SteeringSet(vectors, unit_relative_norm=0.1, combination="decorrelated")
        .combine(strengths)
        .deltas
    )
    torch.testing.assert_close(decorrelated[LAYER], summed[LAYER])
    alone = SteeringSet(vectors, unit_relative_norm=0.1, combination="decorrelated")
    torch.testing.assert_close(
        alone.combine({"a": 0.7}).deltas[LAYER], vectors["a"].deltas(0.7, 0.1)[LAYER]
    )


def test_decorrelated_survives_coinciding_directions_and_keeps_the_cap() -> None:
    same = _unit([1.0, 1.0])
    vectors = {"a": _fixed("a", same), "b": _fixed("b", same.clone())}
    steering = SteeringSet(
        vectors, unit_relative_norm=0.1, max_combined_strength=1.0, combination="decorrelated"
    )
    combined = steering.combine({"a": 0.5, "b": 0.5})
    delta = combined.deltas[LAYER]
    assert torch.isfinite(delta).all()
    # Both ask for 0.5 along the same direction: the least-squares answer is 0.5.
    assert float(delta @ same) == pytest.approx(0.5, abs=1e-5)
    capped = steering.combine({"a": 3.0, "b": 3.0})
    assert float(capped.deltas[LAYER].norm()) == pytest.approx(1.0, rel=1e-5)
    assert LAYER in capped.rescaled_layers


def test_an_unknown_combination_is_refused() -> None:
    steering = SteeringSet(
        {"a": vector("a", 0)},
        unit_relative_norm=0.1,
        combination="product",  # type: ignore[arg-type]
    )
    with pytest.raises(ControlError, match="unknown steering combination 'product'"):
        steering.combine({"a": 1.0})
