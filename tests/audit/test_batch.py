"""generate_batch: batched greedy output equals one-at-a-time streaming on the tiny model."""

from __future__ import annotations

from typing import Any

import pytest

from roleplay.engine.base import ChatMessage, GenerationSettings
from roleplay.engine.batch import generate_batch

MESSAGES = [
    "Hello",
    "How are you today? I am fine, thank you very much for asking.",
    "The weather is lovely",
    "x",
    "I feel sad and tired; the rain has not stopped since morning. She was angry at first.",
]


def _prompts(engine: Any) -> list[str]:
    return [
        engine.render_chat([ChatMessage("system", "Speak like a pirate."), ChatMessage("user", m)])
        for m in MESSAGES
    ]


@pytest.mark.parametrize(
    "settings",
    [
        GenerationSettings(max_new_tokens=16, temperature=0.0),
        GenerationSettings(max_new_tokens=16, temperature=0.0, repetition_penalty=1.0),
        GenerationSettings(max_new_tokens=16, temperature=0.0, min_new_tokens=6),
        GenerationSettings(max_new_tokens=16, temperature=0.0, stop_strings=("e",)),
    ],
)
def test_batch_equals_one_at_a_time_greedy(tiny_engine: Any, settings: GenerationSettings) -> None:
    prompts = _prompts(tiny_engine)
    single = ["".join(event.text for event in tiny_engine.stream(p, settings)) for p in prompts]
    batched = generate_batch(tiny_engine, prompts, settings, batch_size=3)
    assert [output.text for output in batched] == single
    for output in batched:
        assert output.new_tokens <= settings.max_new_tokens
        assert output.stop_reason in {"eos", "stop_string", "length"}
        assert output.prompt_tokens > 0
    if settings.stop_strings:
        assert all("e" not in output.text for output in batched)


def test_batch_sampling_is_seeded_and_leaves_global_rng_alone(tiny_engine: Any) -> None:
    import torch

    prompts = _prompts(tiny_engine)
    settings = GenerationSettings(max_new_tokens=12, temperature=0.9, seed=11)
    state = torch.random.get_rng_state()
    first = [o.text for o in generate_batch(tiny_engine, prompts, settings, batch_size=2)]
    assert torch.equal(state, torch.random.get_rng_state())
    assert first == [o.text for o in generate_batch(tiny_engine, prompts, settings, batch_size=2)]


def test_batch_edge_cases(tiny_engine: Any) -> None:
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0)
    assert generate_batch(tiny_engine, [], settings) == []
    with pytest.raises(ValueError):
        generate_batch(tiny_engine, ["hi"], settings, batch_size=0)


def test_a_server_engine_gets_the_batch_as_concurrent_requests() -> None:
    from bias_audit.generation import batch_generator
    from roleplay.engine.base import GenerationSettings

    class ServerLike:
        model_id = "server"
        context_window = 4096

        def __init__(self) -> None:
            self.calls: list[int] = []

        def complete_many(self, conversations, settings):  # type: ignore[no-untyped-def]
            self.calls.append(len(conversations))
            return [f"reply to {c[-1].content}" for c in conversations]

    engine = ServerLike()
    generate = batch_generator(engine, batch_size=8)  # type: ignore[arg-type]
    outputs = generate(["a", "b", "c"], GenerationSettings(max_new_tokens=4))
    assert [o.text for o in outputs] == ["reply to a", "reply to b", "reply to c"]
    assert engine.calls == [3]  # one concurrent batch, not three sequential streams
