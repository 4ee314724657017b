"""The llama.cpp backend on tiny GGUFs of two architectures built here (tests.helpers.tiny_gguf).

The same weights are also a Hugging Face folder, so llama.cpp's control vectors and eval
callback are checked against transformers' hooks and hidden states on the same model.
Tolerance: llama.cpp keeps its KV cache in float16 (relative error ~5e-4 per value), which
shows up as ~1e-3 of the logits' standard deviation (tests/engine/test_tiny_gguf.py);
1e-2 x std is allowed, while steering moves the logits by far more than that.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats
from roleplay.engine.llama_cpp_engine import LlamaCppEngine
from roleplay.errors import RoleplayError
from tests.helpers.tiny_gguf import Arch, build_tiny_gguf

TOLERANCE = 1e-2  # x the logits' standard deviation (float16 KV cache)
GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)


@dataclass(frozen=True)
class Tiny:
    arch: Arch
    gguf: Path
    hf: Path


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def tiny(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    folder = tmp_path_factory.mktemp(f"gguf-{request.param}")
    path = build_tiny_gguf(
        folder / f"tiny-{request.param}.gguf", arch=request.param, hf_folder=folder / "hf"
    )
    return Tiny(request.param, path, folder / "hf")


@pytest.fixture(scope="module")
def engine(tiny: Tiny) -> LlamaCppEngine:
    return LlamaCppEngine.load(str(tiny.gguf), context_window=256, threads=1)


@pytest.fixture(scope="module")
def hf_model(tiny: Tiny) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny.hf, dtype=torch.float32).eval()


def _prompt(engine: LlamaCppEngine, text: str = "Hello there! How are you today?") -> str:
    return engine.render_chat([ChatMessage("system", "Be calm."), ChatMessage("user", text)])


def _reply(engine: LlamaCppEngine, prompt: str, settings: GenerationSettings, **kw: Any) -> str:
    return "".join(event.text for event in engine.stream(prompt, settings, **kw))


def test_loads_any_architecture_with_its_chat_template(engine: LlamaCppEngine) -> None:
    prompt = _prompt(engine)
    assert prompt.startswith("<|im_start|>system\nBe calm.<|im_end|>")
    assert prompt.endswith("<|im_start|>assistant\n")
    # Special markers in a rendered prompt are single tokens, not spelled out.
    assert engine.count_tokens("<|im_end|>") == 1
    assert engine.n_layer == 4
    assert engine.model_id.startswith("tiny-")
    assert engine.capabilities.steering == "control_vectors"


def test_seeded_replies_repeat_and_limits_hold(engine: LlamaCppEngine) -> None:
    settings = GenerationSettings(max_new_tokens=10, temperature=0.9, seed=7)
    stats = GenerationStats()
    first = _reply(engine, _prompt(engine), settings, stats=stats)
    second = _reply(engine, _prompt(engine), settings)
    assert first == second
    assert 0 < stats.new_tokens <= 10
    assert stats.seconds >= stats.ttft > 0
    assert stats.prompt_tokens == len(engine.tokenize(_prompt(engine)))


def test_stop_strings_and_cancel(engine: LlamaCppEngine) -> None:
    long = GenerationSettings(max_new_tokens=40, temperature=0.0, repetition_penalty=1.0)
    text = _reply(engine, _prompt(engine), long)
    assert len(text) > 3
    stop = text[2:4]
    stats = GenerationStats()
    with_stop = GenerationSettings(
        max_new_tokens=40, temperature=0.0, repetition_penalty=1.0, stop_strings=(stop,)
    )
    stopped = _reply(engine, _prompt(engine), with_stop, stats=stats)
    assert stop not in stopped and text.startswith(stopped)
    assert stats.stop_reason == "stop_string"
    cancel = threading.Event()
    stats = GenerationStats()
    for _ in engine.stream(_prompt(engine), long, cancel=cancel, stats=stats):
        cancel.set()
    assert stats.stop_reason == "cancelled" and stats.new_tokens <= 2


def test_next_turn_reuses_the_cached_prefix(engine: LlamaCppEngine) -> None:
    evaluated: list[int] = []
    original = engine.llm.eval

    def counting(tokens: Any) -> None:
        evaluated.append(len(tokens))
        original(tokens)

    engine.llm.eval = counting  # type: ignore[method-assign]
    try:
        unseeded = GenerationSettings(max_new_tokens=4, temperature=0.0)
        first = _prompt(engine)
        _reply(engine, first, unseeded)
        prompt_evaluated = evaluated[0]
        evaluated.clear()
        longer = first + "Fine, thanks.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
        _reply(engine, longer, unseeded)
        # Only the new part went through the model, not the whole conversation again.
        assert evaluated[0] < len(engine.tokenize(longer)) - prompt_evaluated // 2
    finally:
        del engine.llm.eval


def test_grammar_constrains_the_reply(engine: LlamaCppEngine) -> None:
    grammar = 'root ::= "{\\"mood\\": \\"" ("happy" | "sad") "\\"}"'
    settings = GenerationSettings(max_new_tokens=30, temperature=1.0, seed=3)
    reply = _reply(engine, _prompt(engine), settings, grammar=grammar)
    assert reply in ('{"mood": "happy"}', '{"mood": "sad"}')


def test_layer_outputs_match_transformers_hidden_states(
    engine: LlamaCppEngine, hf_model: Any
) -> None:
    ids = engine.tokenize(_prompt(engine))
    layers = [1, 2, 3]
    outputs = engine.layer_outputs([ids], layers)[0]
    with torch.inference_mode():
        hidden = hf_model(torch.tensor([ids]), output_hidden_states=True).hidden_states
    for layer in layers:
        expected = hidden[layer + 1][0].numpy()  # hidden_states[0] is the embedding
        # The last layer's output goes through the final norm in transformers' tuple.
        if layer == engine.n_layer - 1:
            continue
        scale = float(expected.std())
        assert np.abs(outputs[layer] - expected).max() < TOLERANCE * scale * 10


def test_an_interrupt_while_reading_layers_is_raised_not_swallowed(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ctypes swallows exceptions raised in llama.cpp's callback; a Ctrl-C (or a test's
    # timeout) there used to surface as "did not expose layer outputs for this architecture".
    from roleplay.engine import llama_cpp_hidden

    def interrupted(_name: bytes | None) -> int | None:
        raise KeyboardInterrupt

    ids = engine.tokenize(_prompt(engine))
    monkeypatch.setattr(llama_cpp_hidden, "_layer_of", interrupted)
    with pytest.raises(KeyboardInterrupt):
        engine.layer_outputs([ids], [1])
    monkeypatch.undo()
    assert set(engine.layer_outputs([ids], [1])[0]) == {1}  # the engine still works


def _hf_logprobs(hf_model: Any, ids: list[int], deltas: dict[int, torch.Tensor]) -> np.ndarray:
    import contextlib

    from roleplay.control.hooks import steering_applied

    steering = steering_applied(hf_model, deltas) if deltas else contextlib.nullcontext()
    with torch.inference_mode(), steering:
        logits = hf_model(torch.tensor([ids])).logits[0, -2]  # predicts the last token
    return torch.log_softmax(logits, dim=-1).numpy()


def test_control_vector_equals_the_transformers_hook(engine: LlamaCppEngine, hf_model: Any) -> None:
    ids = engine.tokenize(_prompt(engine))
    generator = torch.Generator().manual_seed(0)
    delta = torch.randn(engine.n_embd, generator=generator) * 2.0
    layer = 2
    plain_hf = _hf_logprobs(hf_model, ids, {})
    steered_hf = _hf_logprobs(hf_model, ids, {layer: delta})

    def llama_logprobs(vector: torch.Tensor | None) -> np.ndarray:
        if vector is None:
            engine.set_control_vector(None, None)
        else:
            engine.set_control_vector("test", {layer: vector.numpy()})
        try:
            return engine.sequence_logprobs([ids], [len(ids) - 1])[0][-1]
        finally:
            engine.set_control_vector(None, None)

    plain = llama_logprobs(None)
    steered = llama_logprobs(delta)
    scale = float(plain_hf.std())
    assert np.abs(plain - plain_hf).max() < TOLERANCE * scale
    assert np.abs(steered - steered_hf).max() < TOLERANCE * scale
    # ...and the vector really moved the distribution, far beyond the tolerance.
    assert np.abs(steered_hf - plain_hf).max() > 20 * TOLERANCE * scale


def test_control_vector_changes_and_clears(engine: LlamaCppEngine) -> None:
    prompt = _prompt(engine)
    plain = _reply(engine, prompt, GREEDY)
    vector = np.random.default_rng(1).normal(size=engine.n_embd).astype(np.float32) * 4
    engine.set_control_vector("strong", {1: vector, 2: vector})
    steered = _reply(engine, prompt, GREEDY)
    engine.set_control_vector(None, None)
    assert steered != plain
    assert _reply(engine, prompt, GREEDY) == plain  # the cached steered prefix was dropped
    with pytest.raises(RoleplayError, match="layer 0"):
        engine.set_control_vector("bad", {0: vector})


def _strong_vector(engine: LlamaCppEngine, seed: int = 1, scale: float = 4) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=engine.n_embd).astype(np.float32) * scale


def test_steering_only_the_reply_scores_as_the_hook_on_the_reply_positions(
    engine: LlamaCppEngine, hf_model: Any
) -> None:
    """The prompt's positions unsteered, the reply's (from the prompt's last token) steered."""
    ids = engine.tokenize(_prompt(engine))
    start = len(ids) - 4  # the last four tokens are "the reply"
    layer = 2
    vector = _strong_vector(engine)
    on_reply = torch.zeros(len(ids), engine.n_embd)
    on_reply[start - 1 :] = torch.from_numpy(vector)
    with torch.inference_mode():
        from roleplay.control.hooks import steering_applied

        def hf_rows(deltas: dict[int, torch.Tensor]) -> np.ndarray:
            with steering_applied(hf_model, deltas):
                logits = hf_model(torch.tensor([ids])).logits[0, start - 1 : -1]
            return torch.log_softmax(logits, dim=-1).numpy()

        expected = hf_rows({layer: on_reply})
        everywhere = hf_rows({layer: torch.from_numpy(vector)})
    engine.set_control_vector("reply", {layer: vector}, steer_prompt=False)
    try:
        assert not engine.steers_prompt
        rows = engine.sequence_logprobs([ids], [start])[0]
        # again, from the cells the first call left (the prompt's are reused, not the reply's)
        again = engine.sequence_logprobs([ids, ids[:-1]], [start, start - 1])
    finally:
        engine.set_control_vector(None, None)
    scale = float(expected.std())
    assert np.abs(rows - expected).max() < TOLERANCE * scale
    assert np.abs(again[0] - expected).max() < TOLERANCE * scale
    assert np.abs(expected - everywhere).max() > 20 * TOLERANCE * scale  # not the same thing
    assert engine.steers_prompt  # cleared with the vector


def test_a_reply_steered_alone_is_what_its_scoring_predicts(engine: LlamaCppEngine) -> None:
    """Generation and scoring steer the same positions: the greedy reply is, token by
    token, the most likely one under reply-only scoring, and not the one that steering
    every position gives."""
    prompt = _prompt(engine)
    ids = engine.tokenize(prompt)
    vector = _strong_vector(engine, seed=2, scale=1)  # the two ways give other replies here

    def greedy(steer_prompt: bool) -> list[int]:
        engine.set_control_vector("strong", {1: vector, 2: vector}, steer_prompt=steer_prompt)
        try:
            return [t for e in engine.stream(prompt, GREEDY) for t in e.token_ids]
        finally:
            engine.set_control_vector(None, None)

    reply_only = greedy(steer_prompt=False)
    everywhere = greedy(steer_prompt=True)
    assert reply_only and reply_only != everywhere
    for steer_prompt, reply in ((False, reply_only), (True, everywhere)):
        engine.set_control_vector("strong", {1: vector, 2: vector}, steer_prompt=steer_prompt)
        try:
            rows = engine.sequence_logprobs([ids + reply], [len(ids)])[0]
        finally:
            engine.set_control_vector(None, None)
        chosen = rows[np.arange(len(reply)), reply]
        assert (rows.max(axis=1) - chosen).max() < TOLERANCE * float(rows.std())


def test_a_reply_steered_alone_leaves_the_next_prompt_unsteered(engine: LlamaCppEngine) -> None:
    """The next turn's prompt holds the steered reply: the cells from the first steered
    one (the last prompt token) on are computed again without the vector, the ones
    before are reused, and the turn replies as it would from an empty cache."""
    vector = _strong_vector(engine, seed=2)
    first = _prompt(engine)
    first_length = len(engine.tokenize(first))
    second = first + "Fine, thanks.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
    second += "<|im_start|>assistant\n"
    evaluated: list[list[int]] = []
    original = engine.llm.eval

    def recording(tokens: Any) -> None:
        evaluated.append(list(tokens))
        original(tokens)

    engine.set_control_vector("strong", {1: vector, 2: vector}, steer_prompt=False)
    engine.llm.eval = recording  # type: ignore[method-assign]
    try:
        _reply(engine, first, GREEDY)
        evaluated.clear()
        cached = _reply(engine, second, GREEDY)
        # the unsteered prefill, then the last prompt token with the vector, then the reply
        assert len(evaluated[0]) == len(engine.tokenize(second)) - 1 - (first_length - 1)
        assert len(evaluated[1]) == 1
        engine.llm.reset()
        fresh = _reply(engine, second, GREEDY)
    finally:
        del engine.llm.eval
        engine.set_control_vector(None, None)
    assert cached == fresh


def _decayed_per_position(
    vector: np.ndarray, length: int, prompt_length: int, half_life: float
) -> torch.Tensor:
    """The hook's deltas for decay over a reply: full over the prompt but its last token,
    then 0.5 ** (n / half_life) at the reply's n-th position (0: the last prompt token)."""
    scales = torch.ones(length)
    for position in range(prompt_length - 1, length):
        scales[position] = 0.5 ** ((position - (prompt_length - 1)) / half_life)
    return scales[:, None] * torch.from_numpy(vector)[None, :]


@pytest.mark.parametrize("steer_prompt", [True, False])
def test_a_decayed_reply_is_what_the_hook_at_the_decayed_strengths_predicts(
    engine: LlamaCppEngine, hf_model: Any, steer_prompt: bool
) -> None:
    """Token by token, the greedy reply under a decaying vector is the most likely one
    under transformers' hook adding the vector at each position's decayed strength, and
    it is not the reply that one constant strength gives."""
    prompt = _prompt(engine)
    ids = engine.tokenize(prompt)
    vector = _strong_vector(engine, seed=2)
    half_life = 2.0

    def greedy(half: float | None) -> list[int]:
        engine.set_control_vector(
            "strong", {1: vector, 2: vector}, steer_prompt=steer_prompt, half_life=half
        )
        try:
            return [t for e in engine.stream(prompt, GREEDY) for t in e.token_ids]
        finally:
            engine.set_control_vector(None, None)

    decayed, constant = greedy(half_life), greedy(None)
    assert len(decayed) > 4 and decayed != constant
    full = ids + decayed
    deltas = _decayed_per_position(vector, len(full), len(ids), half_life)
    if not steer_prompt:
        deltas[: len(ids) - 1] = 0
    from roleplay.control.hooks import steering_applied

    with torch.inference_mode(), steering_applied(hf_model, {1: deltas, 2: deltas}):
        logits = hf_model(torch.tensor([full])).logits[0, len(ids) - 1 : -1]
    rows = torch.log_softmax(logits, dim=-1).numpy()
    chosen = rows[np.arange(len(decayed)), decayed]
    assert (rows.max(axis=1) - chosen).max() < TOLERANCE * float(rows.std())


def test_a_decayed_reply_leaves_the_next_turn_as_an_empty_cache_would(
    engine: LlamaCppEngine,
) -> None:
    """The reply's cells, computed at decayed strengths, are not reused for the next
    prompt (which steers them at full strength): it replies as it would from scratch."""
    vector = _strong_vector(engine, seed=2)
    first = _prompt(engine)
    second = first + "Fine, thanks.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
    second += "<|im_start|>assistant\n"
    engine.set_control_vector("strong", {1: vector, 2: vector}, half_life=2.0)
    try:
        _reply(engine, first, GREEDY)
        assert engine.llm.n_tokens == len(engine.tokenize(first))  # the reply's cells dropped
        cached = _reply(engine, second, GREEDY)
        engine.llm.reset()
        fresh = _reply(engine, second, GREEDY)
    finally:
        engine.set_control_vector(None, None)
    assert cached == fresh


def test_a_half_life_must_be_a_positive_number(engine: LlamaCppEngine) -> None:
    vector = _strong_vector(engine)
    for bad in (0.0, -3.0, float("nan"), float("inf")):
        with pytest.raises(RoleplayError, match="half-life must be > 0 tokens"):
            engine.set_control_vector("strong", {1: vector}, half_life=bad)


def test_scoring_shares_prefixes_without_changing_results(engine: LlamaCppEngine) -> None:
    ids = engine.tokenize(_prompt(engine))
    alone = [engine.sequence_logprobs([row], [3])[0] for row in (ids, ids[:-2])]
    together = engine.sequence_logprobs([ids, ids[:-2]], [3, 3])
    for one, both in zip(alone, together, strict=True):
        assert one.shape == both.shape
        assert np.abs(one - both).max() < 1e-3


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "the file is empty"),
        (b"PK\x03\x04 this is a zip, not a model" * 3, "not a GGUF file"),
        (b"GGUF\x03\x00\x00\x00", "truncated"),
        (b"GGUF\x63\x00\x00\x00" + b"\x00" * 40, "version 99"),
    ],
)
def test_unusable_files_are_refused_in_one_line(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "bad.gguf"
    path.write_bytes(content)
    with pytest.raises(RoleplayError, match=reason) as error:
        LlamaCppEngine.load(str(path))
    assert str(path) in error.value.message and "\n" not in error.value.message


def test_truncated_download_is_refused(tiny: Tiny, tmp_path: Path) -> None:
    data = tiny.gguf.read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(RoleplayError, match="truncated"):
        LlamaCppEngine.load(str(cut))


def test_unknown_architecture_names_the_reason(tiny: Tiny, tmp_path: Path) -> None:
    # Same length, so every offset stays valid: the architecture and its keys get a name
    # this llama.cpp does not know.
    strange = tmp_path / "strange.gguf"
    strange.write_bytes(tiny.gguf.read_bytes().replace(tiny.arch.encode(), b"z" * len(tiny.arch)))
    with pytest.raises(RoleplayError) as error:
        LlamaCppEngine.load(str(strange))
    message = error.value.message
    assert str(strange) in message and "\n" not in message
    assert "llama.cpp cannot load it" in message and "unknown model architecture" in message


def test_a_file_bigger_than_free_memory_is_refused_before_loading(
    tiny: Tiny, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roleplay.engine import gguf_check

    monkeypatch.setattr(gguf_check, "available_memory_bytes", lambda: 1024)
    with pytest.raises(RoleplayError, match="too big for free memory") as error:
        LlamaCppEngine.load(str(tiny.gguf))
    assert "ROLEPLAY_IGNORE_MEMORY_CHECK" in error.value.message
    monkeypatch.setenv("ROLEPLAY_IGNORE_MEMORY_CHECK", "1")
    assert LlamaCppEngine.load(str(tiny.gguf), context_window=128, threads=1).n_layer == 4


def test_vectors_from_the_matching_hugging_face_checkpoint(
    tiny: Tiny, engine: LlamaCppEngine, hf_model: Any, tiny_model_dir: Path
) -> None:
    from transformers import AutoTokenizer

    from roleplay.control.controller import Controller
    from roleplay.control.errors import ControlError

    tokenizer = AutoTokenizer.from_pretrained(tiny.hf)
    twin = (hf_model, tokenizer, f"hf-twin-{tiny.arch}")
    controller = Controller.for_card(
        engine, None, {"sentiment": 1.0}, layers=[1, 2], vector_source=twin
    )
    described = controller.describe()
    assert described["steering"]["method"] == "control_vectors"
    assert "built steering vectors: sentiment" in described["notes"][0]
    ids = engine.tokenize(_prompt(engine))
    plain = engine.sequence_logprobs([ids], [len(ids) - 1])[0][-1]
    with controller.steering():
        steered = engine.sequence_logprobs([ids], [len(ids) - 1])[0][-1]
    # The checkpoint's vectors, applied as control vectors, move the model's predictions.
    assert np.abs(steered - plain).max() > TOLERANCE * float(plain.std())
    # A checkpoint of another shape is refused in one line.
    from transformers import AutoModelForCausalLM

    other = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    with pytest.raises(ControlError, match="layers of"):
        Controller.for_card(
            engine,
            None,
            {"sentiment": 1.0},
            vector_source=(other, AutoTokenizer.from_pretrained(tiny_model_dir), "other"),
        )
