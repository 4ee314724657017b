"""The controller as the chat pipeline uses it, on the tiny model."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from roleplay.control.attributes import fluency_bounds, load_attributes
from roleplay.control.config import load_config
from roleplay.control.controller import Controller, supports_hooks
from roleplay.control.errors import ControlError
from roleplay.control.hooks import steering_hook_count
from roleplay.control.processors import (
    BannedPhrasesLogitsProcessor,
    ReplyFrequencyPenaltyLogitsProcessor,
    ReplyNoRepeatNGramLogitsProcessor,
)
from roleplay.control.strengths import strength_bound
from tests.control.conftest import make_card

LAYERS = (1, 2)


def reply(tiny: Any, controller: Controller, max_new_tokens: int = 8) -> list[int]:
    ids = tiny.tokenizer("Tell me about your day.", return_tensors="pt")
    with controller.steering(), torch.inference_mode():
        out = tiny.model.generate(
            **ids,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            logits_processor=controller.logits_processors(),
            pad_token_id=tiny.tokenizer.pad_token_id,
        )
    return list(out[0, ids["input_ids"].shape[1] :].tolist())


def _bundled_bound(name: str, value: float) -> float:
    """|strength| the bundled attribute files allow ``name`` toward the sign of ``value``
    (its own fluency bound for that direction, else the global one)."""
    bounds = fluency_bounds(load_attributes())
    return strength_bound(name, value, load_config().max_strength, bounds)


def _asked_bound(name: str, value: float) -> float:
    """|strength| a card or chat may ask of ``name`` under the shipped steering.yaml: its own
    bound where that bounds the strength asked, else only the global one (its own bound then
    limits the strength steered, ``test_fluency_bounds.py``)."""
    config = load_config()
    if config.attribute_bounds_on == "steered":
        return config.max_strength
    return _bundled_bound(name, value)


@pytest.mark.usefixtures("no_hooks_left")
def test_card_strengths_steer_for_the_block_only(tiny: Any) -> None:
    card = make_card({"extraversion": 1.0, "neuroticism": 0.5}, {"sentiment": 0.5})
    controller = Controller.for_card(tiny, card, layers=LAYERS)
    extravert = _asked_bound("extraversion", 1.0)  # the card asks for +1, clipped to it
    assert controller.strengths == {"extraversion": extravert, "sentiment": 0.5}
    own = _bundled_bound("extraversion", 1.0)
    steered = controller.describe()["steering"]["steered"]
    assert set(steered) == {str(layer) for layer in LAYERS}
    assert all(0 < at_layer["extraversion"] <= own for at_layer in steered.values())
    with controller.steering() as handle:
        assert handle is not None and steering_hook_count(tiny.model) == len(LAYERS)
    assert steering_hook_count(tiny.model) == 0
    ids = tiny.tokenizer("Hello", return_tensors="pt")
    with torch.inference_mode():
        plain = tiny.model(**ids).logits
        with controller.steering():
            steered = tiny.model(**ids).logits
    assert not torch.allclose(plain, steered)


@pytest.mark.usefixtures("no_hooks_left")
def test_overrides_tuple_input_and_describe(tiny: Any) -> None:
    card = make_card({"extraversion": 0.9}, extensions={"banned_phrases": ["As an AI"]})
    controller = Controller.for_card(
        (tiny.model, tiny.tokenizer, tiny.model_id),
        card,
        {"extraversion": -5.0, "formality": 0.5},
        banned_phrases=["Certainly!"],
        frequency_penalty=0.3,
        no_repeat_ngram_size=3,
        grammar="mood",
        layers=LAYERS,
    )
    info = controller.describe()
    steering = info["steering"]
    specs = load_attributes()
    cap, own = load_config().max_strength, fluency_bounds(specs)
    bounds = {
        "extraversion": strength_bound("extraversion", -5.0, cap, own),
        "formality": strength_bound("formality", 0.5, cap, own),
    }
    assert steering["bounds"] == bounds  # each attribute's bound for the sign asked for
    assert steering["max_strength"] == cap
    assert steering["strengths"] == {
        "extraversion": -bounds["extraversion"],
        "formality": min(0.5, bounds["formality"]),
    }
    assert steering["clipped_from"] == {"extraversion": -5.0}
    assert steering["sources"] == {"extraversion": "override", "formality": "override"}
    assert steering["layers"] == list(LAYERS)
    assert info["decoding"]["banned_phrases"] == ["As an AI", "Certainly!"]
    assert info["decoding"]["grammar"] == "mood"
    import json

    json.dumps(info)  # recordable in the session as is


def test_processors_are_fresh_for_each_generation(tiny: Any) -> None:
    controller = Controller.for_card(
        tiny,
        None,
        banned_phrases=["no"],
        frequency_penalty=0.2,
        no_repeat_ngram_size=2,
        grammar="likert",
    )
    first, second = controller.logits_processors(), controller.logits_processors()
    kinds = [type(p) for p in first]
    assert kinds[:3] == [
        BannedPhrasesLogitsProcessor,
        ReplyFrequencyPenaltyLogitsProcessor,
        ReplyNoRepeatNGramLogitsProcessor,
    ]
    assert type(first[-1]).__name__ == "GrammarConstrainedLogitsProcessor"  # last: it has the say
    assert all(a is not b for a, b in zip(first, second, strict=True))
    text = tiny.tokenizer.decode(reply(tiny, controller), skip_special_tokens=True)
    assert text in {"1", "2", "3", "4", "5"}
    assert tiny.tokenizer.decode(reply(tiny, controller), skip_special_tokens=True) == text


@pytest.mark.usefixtures("no_hooks_left")
def test_disabled_controller_does_nothing_but_still_validates(tiny: Any) -> None:
    controller = Controller.for_card(
        tiny, make_card({"extraversion": 1.0}), enabled=False, grammar="likert"
    )
    assert controller.logits_processors() == []
    with controller.steering() as handle:
        assert handle is None
    assert controller.describe()["enabled"] is False
    with pytest.raises(ControlError, match="did you mean 'sentiment'"):
        Controller.for_card(tiny, None, {"sentimnt": 1.0}, enabled=False)


@pytest.mark.usefixtures("no_hooks_left")
def test_the_combined_bound_scales_the_sum_only_past_it(tiny: Any) -> None:
    # Within both attributes' own bounds, so that only the combined bound acts.
    strengths = {"extraversion": 0.5, "sentiment": -0.5}
    shipped = Controller.for_card(tiny, None, strengths, layers=LAYERS)
    wide = Controller.for_card(tiny, None, strengths, layers=LAYERS, max_combined_strength=10)
    assert wide.describe()["steering"]["max_combined_strength"] == 10
    assert shipped.describe()["steering"]["max_combined_strength"] == (
        load_config().max_combined_strength
    )
    assert wide.rescaled_layers == {}  # two half-unit strengths sum to less than 10 units
    narrow = Controller.for_card(tiny, None, strengths, layers=LAYERS, max_combined_strength=0.25)
    assert set(narrow.rescaled_layers) == set(LAYERS)
    for layer in LAYERS:
        # Below the bound the sum is the attributes' deltas as they are; past it, the same
        # direction scaled down to the bound.
        unscaled, scaled = wide.deltas[layer], narrow.deltas[layer]
        assert torch.allclose(scaled, unscaled * narrow.rescaled_layers[layer])
        assert float(scaled.norm()) < float(unscaled.norm())
    narrower = Controller.for_card(
        tiny, None, strengths, layers=LAYERS, max_combined_strength=0.125
    )
    for layer in LAYERS:  # past the bound, the norm is the bound's
        ratio = float(narrow.deltas[layer].norm()) / float(narrower.deltas[layer].norm())
        assert ratio == pytest.approx(2.0, rel=1e-4)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"grammar": "root ::= ("}, r"expecting '\)'"),
        ({"frequency_penalty": 5}, "frequency_penalty"),
        ({"no_repeat_ngram_size": -1}, "ngram_size"),
        ({"banned_phrases": [""]}, "non-empty strings"),
        ({"combination": "product"}, "unknown steering combination 'product'"),
        ({"scope": "prompt"}, "unknown steering scope 'prompt'"),
        ({"attribute_bounds_on": "sometimes"}, "unknown attribute_bounds_on 'sometimes'"),
        ({"scope": "reply"}, "needs llama.cpp's control vectors"),  # hooks steer every token
        ({"max_combined_strength": 0}, "must be a positive number, got 0"),
        ({"max_combined_strength": float("inf")}, "must be a positive number, got inf"),
        ({"max_combined_strength": "2"}, "must be a number, got '2'"),
        ({"reply_half_life": 0}, "reply_half_life must be a positive number, got 0"),
        ({"reply_half_life": "16"}, "reply_half_life must be a number, got '16'"),
        ({"reply_half_life": 16}, "decaying the vectors over a reply needs llama.cpp"),
    ],
)
def test_bad_settings_fail_at_construction(
    tiny: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ControlError, match=message):
        Controller.for_card(tiny, None, **options)


def test_card_banned_phrases_must_be_a_list(tiny: Any) -> None:
    with pytest.raises(ControlError, match="must be a list of phrases"):
        Controller.for_card(tiny, make_card(extensions={"banned_phrases": "As an AI"}))


def test_models_without_hooks_still_get_processors(tiny: Any) -> None:
    assert supports_hooks(tiny.model)
    opaque = SimpleNamespace(model=object(), tokenizer=tiny.tokenizer, model_id="llama.cpp")
    assert not supports_hooks(opaque.model)
    controller = Controller.for_card(opaque, None, {"sentiment": 1.0}, banned_phrases=["x"])
    assert controller.strengths == {}
    assert "steering unavailable" in controller.describe()["notes"][0]
    assert len(controller.logits_processors()) == 1
    with controller.steering() as handle:
        assert handle is None


@pytest.mark.usefixtures("no_hooks_left")
def test_overrides_can_change_between_replies(tiny: Any) -> None:
    card = make_card({"extraversion": 1.0})
    controller = Controller.for_card(tiny, card, layers=LAYERS)
    extravert = _asked_bound("extraversion", 1.0)
    assert controller.strengths == {"extraversion": extravert}
    controller.set_overrides({"sentiment": -0.5})
    assert controller.strengths == {"extraversion": extravert, "sentiment": -0.5}
    assert controller.describe()["steering"]["sources"]["sentiment"] == "override"
    controller.set_overrides({"extraversion": 0})
    assert controller.strengths == {}
    with controller.steering() as handle:
        assert handle is None
    with pytest.raises(ControlError, match="did you mean"):
        controller.set_overrides({"extravert": 1.0})
    assert controller.strengths == {}  # unchanged after the bad input
