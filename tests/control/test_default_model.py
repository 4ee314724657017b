"""On the real default model (slow): the grammars hold and steering installs cleanly."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
import torch

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def default_model() -> Iterator[Any]:
    from roleplay.engine.loading import load_model

    saved = dict(os.environ)  # load_model points library caches at ROLEPLAY_HOME
    try:
        yield load_model()
    finally:
        os.environ.clear()
        os.environ.update(saved)


def constrained_reply(loaded: Any, question: str, grammar: str, sample: bool) -> str:
    from roleplay.control.controller import Controller

    controller = Controller.for_card(loaded, None, grammar=grammar)
    tokenizer = loaded.tokenizer
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    with torch.inference_mode():
        out = loaded.model.generate(
            **ids,
            max_new_tokens=24,
            do_sample=sample,
            temperature=0.8 if sample else None,
            top_p=0.95 if sample else None,
            logits_processor=controller.logits_processors(),
            pad_token_id=tokenizer.pad_token_id,
        )
    return str(tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))


@pytest.mark.parametrize("sample", [False, True])
def test_likert_grammar_yields_one_digit(default_model: Any, sample: bool) -> None:
    question = (
        'How much do you agree with "I am the life of the party"? '
        "Answer 1 (disagree strongly) to 5 (agree strongly)."
    )
    assert re.fullmatch(r"[1-5]", constrained_reply(default_model, question, "likert", sample))


@pytest.mark.parametrize("sample", [False, True])
def test_mood_grammar_yields_json(default_model: Any, sample: bool) -> None:
    text = constrained_reply(
        default_model, "How do you feel? Reply with a mood tag.", "mood", sample
    )
    assert list(json.loads(text)) == ["mood"]


def test_steering_on_the_default_model(default_model: Any) -> None:
    from roleplay.control.controller import Controller
    from roleplay.control.hooks import steering_hook_count

    controller = Controller.for_card(default_model, None, {"sentiment": 1.0})
    assert controller.describe()["steering"]["layers"] == [12, 15]
    with controller.steering():
        assert steering_hook_count(default_model.model) == 2
    assert steering_hook_count(default_model.model) == 0
