"""Recording, building and the on-disk cache, on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from roleplay.control.attributes import load_attributes, parse_attribute
from roleplay.control.building import build_steering_set, chat_examples
from roleplay.control.cache import cache_key, entry_paths, load_vector, steering_cache_dir
from roleplay.control.config import load_config
from roleplay.control.errors import ControlError
from roleplay.control.recording import record_answer_activations
from roleplay.control.targets import HookTarget

LAYERS = (1, 2)


def build(tiny: Any, names: list[str] | None = None, **options: Any) -> Any:
    options.setdefault("layers", LAYERS)
    return build_steering_set(target(tiny), names, **options)


def target(tiny: Any, model_id: str | None = None) -> HookTarget:
    return HookTarget(tiny.model, tiny.tokenizer, model_id or tiny.model_id)


def test_batching_does_not_change_the_recorded_means(tiny: Any) -> None:
    spec = load_attributes()["sentiment"]
    positive, negative = chat_examples(spec, target(tiny), "Stay in character.")
    examples = (positive + negative)[:6]
    one = record_answer_activations(tiny.model, tiny.tokenizer, examples, LAYERS, batch_size=1)
    many = record_answer_activations(tiny.model, tiny.tokenizer, examples, LAYERS, batch_size=6)
    for layer in LAYERS:
        torch.testing.assert_close(one.means[layer], many.means[layer], atol=1e-4, rtol=1e-4)
        assert len(one.token_norms[layer][0]) > 0


def test_recording_stops_after_the_deepest_layer(tiny: Any) -> None:
    calls = []
    last = tiny.model.model.layers[3].register_forward_hook(lambda *_: calls.append(1))
    try:
        spec = load_attributes()["formality"]
        examples = chat_examples(spec, target(tiny), "")[0][:2]
        record_answer_activations(tiny.model, tiny.tokenizer, examples, (1,))
    finally:
        last.remove()
    assert calls == []


def test_build_all_attributes_then_load_from_cache(tiny: Any, scratch_home: Path) -> None:
    steering, report = build(tiny)
    assert set(report.built) == set(load_attributes())
    assert report.cached == () and report.layers == LAYERS
    for vector in steering.vectors.values():
        assert vector.layers == LAYERS
        for layer in LAYERS:
            assert float(vector.directions[layer].norm()) == pytest.approx(1.0, abs=1e-5)
            assert vector.layer_scales[layer] > 0
    assert steering_cache_dir().is_relative_to(scratch_home)
    again, second = build(tiny)
    assert second.built == () and set(second.cached) == set(load_attributes())
    for name, vector in again.vectors.items():
        torch.testing.assert_close(vector.directions[2], steering.vectors[name].directions[2])


def test_cache_is_keyed_by_model_layers_and_data(tiny: Any) -> None:
    build(tiny, ["sentiment"])
    other_model = build_steering_set(target(tiny, "another-model"), ["sentiment"], layers=LAYERS)[1]
    assert other_model.built == ("sentiment",)  # a different model never reuses vectors
    assert build(tiny, ["sentiment"], layers=(0, 1))[1].built == ("sentiment",)
    spec = load_attributes()["sentiment"]
    key = cache_key(tiny.model_id, spec, LAYERS, "mean_difference", "prompt")
    edited = parse_attribute(
        spec.source.read_text().replace("Wonderful!", "Marvellous!"), spec.source
    )
    assert entry_paths(key) != entry_paths(
        cache_key(tiny.model_id, edited, LAYERS, "mean_difference", "prompt")
    )
    assert entry_paths(key) != entry_paths(
        cache_key("x", spec, LAYERS, "mean_difference", "prompt")
    )
    assert (
        entry_paths(key)[0].parent
        != entry_paths(cache_key("other", spec, LAYERS, "mean_difference", "prompt"))[0].parent
    )


def test_stale_or_foreign_entries_are_not_used(tiny: Any) -> None:
    build(tiny, ["sentiment"])
    spec = load_attributes()["sentiment"]
    config = load_config()
    key = cache_key(tiny.model_id, spec, LAYERS, config.method, config.extraction_system_prompt)
    assert load_vector(key, 32) is not None
    assert load_vector(key, 64) is None  # hidden size of another model
    _, meta_path = entry_paths(key)
    meta = json.loads(meta_path.read_text())
    meta["key"]["model_id"] = "someone-else"
    meta_path.write_text(json.dumps(meta))
    assert load_vector(key, 32) is None
    assert build(tiny, ["sentiment"])[1].built == ("sentiment",)  # rebuilt, not reused


def test_force_and_no_cache(tiny: Any) -> None:
    build(tiny, ["formality"])
    assert build(tiny, ["formality"], force=True)[1].built == ("formality",)
    assert build(tiny, ["formality"], use_cache=False)[1].built == ("formality",)


def test_unknown_attribute_and_bad_layers(tiny: Any) -> None:
    with pytest.raises(ControlError, match="did you mean 'extraversion'"):
        build(tiny, ["extroversion"])
    with pytest.raises(ControlError, match="do not exist"):
        build(tiny, ["sentiment"], layers=(9,))


@pytest.mark.parametrize(
    ("key", "default", "other", "unknown", "message"),
    [
        ("combination", "sum", "decorrelated", "product", "must be one of sum, decorrelated"),
        ("scope", "all", "reply", "prompt", "must be one of all, reply"),
    ],
)
def test_a_steering_choice_comes_from_steering_yaml(
    tmp_path: Path, key: str, default: str, other: str, unknown: str, message: str
) -> None:
    from roleplay.control.config import config_path
    from roleplay.errors import FileProblemsError

    # the defaults until the drift benchmark shows otherwise
    assert getattr(load_config(), key) == default
    text = config_path().read_text(encoding="utf-8")
    good = tmp_path / "good.yaml"
    good.write_text(text.replace(f"{key}: {default}", f"{key}: {other}"))
    assert getattr(load_config(good), key) == other
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace(f"{key}: {default}", f"{key}: {unknown}"))
    with pytest.raises(FileProblemsError, match=f"'{key}' {message}"):
        load_config(bad)


@pytest.mark.parametrize("bad", ["0", "-8", "true", "soon"])
def test_the_reply_half_life_comes_from_steering_yaml(tmp_path: Path, bad: str) -> None:
    from roleplay.control.config import config_path
    from roleplay.errors import FileProblemsError

    assert load_config().reply_half_life is None  # constant until a benchmark shows otherwise
    text = config_path().read_text(encoding="utf-8")
    assert text.count("reply_half_life: null") == 1
    good = tmp_path / "good.yaml"
    good.write_text(text.replace("reply_half_life: null", "reply_half_life: 24"))
    assert load_config(good).reply_half_life == 24.0
    wrong = tmp_path / "bad.yaml"
    wrong.write_text(text.replace("reply_half_life: null", f"reply_half_life: {bad}"))
    with pytest.raises(FileProblemsError, match="'reply_half_life' must be null or a number > 0"):
        load_config(wrong)
