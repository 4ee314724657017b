"""The fast forward and int8 weights: same answers as transformers, hooks still steer."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers.generation.logits_process import MinNewTokensLengthLogitsProcessor

from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats
from roleplay.engine.decoding import SuppressTokensUntil
from roleplay.engine.fast_llama import CACHE_GRANULARITY, unsupported_reason
from roleplay.engine.optimization import OPTIMIZATION_ENV, requested_optimization
from roleplay.engine.quantize import DynamicInt8Linear, quantize_model, quantized_cache_folder
from roleplay.engine.threads import THREADS_ENV, choose_threads
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.errors import RoleplayError

GREEDY = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)


def _prompt(engine: TransformersEngine, text: str = "Hello there, how are you?") -> str:
    return engine.render_chat([ChatMessage("system", "You are calm."), ChatMessage("user", text)])


def _greedy(engine: TransformersEngine, prompt: str, settings: GenerationSettings = GREEDY):
    ids: list[int] = []
    stats = GenerationStats()
    for event in engine.stream(prompt, settings, stats=stats):
        ids.extend(event.token_ids)
    return ids, stats


def _hf_logits(engine: TransformersEngine, prompt: str) -> torch.Tensor:
    with torch.inference_mode():
        return engine.model(input_ids=engine.encode(prompt)).logits[0, -1]


def _fast_logits(engine: TransformersEngine, prompt: str) -> torch.Tensor:
    fast = engine.optimization.fast
    assert fast is not None
    fast.forget()
    with torch.inference_mode():
        logits = fast.prefill(fast.new_cache(), engine.encode(prompt)[0].tolist())[0]
    fast.forget()
    return logits


@pytest.fixture(scope="module")
def engines(tiny_model_dir: Path) -> dict[str, TransformersEngine]:
    """One engine per option, each on its own copy of the tiny model."""
    return {
        option: TransformersEngine.load(str(tiny_model_dir), optimization=option)
        for option in ("none", "fast", "int8")
    }


@pytest.fixture
def adding_hook() -> Iterator[Callable[[torch.nn.Module, float], list[int]]]:
    """Register a hook adding ``amount`` to a layer's output; returns the list of call sizes."""
    handles: list[Any] = []

    def install(layer: torch.nn.Module, amount: float) -> list[int]:
        calls: list[int] = []

        def hook(_module: Any, _inputs: Any, output: Any) -> Any:
            hidden = output[0] if isinstance(output, tuple) else output
            calls.append(int(hidden.shape[1]))
            return hidden + amount

        handles.append(layer.register_forward_hook(hook))
        return calls

    yield install
    for handle in handles:
        handle.remove()


def test_auto_picks_the_fast_forward_for_a_small_llama(tiny_engine: TransformersEngine) -> None:
    # Below AUTO_INT8_MIN_PARAMETERS int8 does not pay: the tiny model gets float32 + fast.
    assert tiny_engine.optimization.method == "fast"
    assert tiny_engine.optimization.fast is not None


def test_fast_forward_matches_transformers(engines: dict[str, TransformersEngine]) -> None:
    prompt = _prompt(engines["none"])
    reference, _ = _greedy(engines["none"], prompt)
    fast, _ = _greedy(engines["fast"], prompt)
    assert fast == reference
    torch.testing.assert_close(
        _fast_logits(engines["fast"], prompt), _hf_logits(engines["none"], prompt)
    )


def test_int8_stays_close_to_float32(engines: dict[str, TransformersEngine]) -> None:
    """Tolerance (docs/speed.md): every logit within 10% of the logits' standard deviation
    (measured: ~3%), correlation > 0.999, the first greedy tokens equal."""
    prompt = _prompt(engines["none"])
    reference = _hf_logits(engines["none"], prompt)
    quantized = _fast_logits(engines["int8"], prompt)
    assert (quantized - reference).abs().max() < 0.1 * reference.std()
    assert torch.corrcoef(torch.stack([quantized, reference]))[0, 1] > 0.999
    int8_ids, _ = _greedy(engines["int8"], prompt)
    float_ids, _ = _greedy(engines["none"], prompt)
    assert int8_ids[:4] == float_ids[:4]


def test_int8_fast_forward_matches_int8_transformers_forward(
    engines: dict[str, TransformersEngine],
) -> None:
    """generate/batching use the same int8 modules as streaming, so they agree."""
    engine = engines["int8"]
    assert isinstance(engine.model.model.layers[0].self_attn.q_proj, DynamicInt8Linear)
    assert isinstance(engine.model.lm_head, DynamicInt8Linear)
    prompt = _prompt(engine)
    torch.testing.assert_close(
        _fast_logits(engine, prompt), _hf_logits(engine, prompt), atol=2e-2, rtol=1e-2
    )


@pytest.mark.parametrize("option", ["fast", "int8"])
def test_layer_hooks_fire_and_steer_on_the_fast_path(
    engines: dict[str, TransformersEngine],
    adding_hook: Callable[[torch.nn.Module, float], list[int]],
    option: str,
) -> None:
    engine = engines[option]
    prompt = _prompt(engine)
    plain_logits = _fast_logits(engine, prompt)
    plain_ids, _ = _greedy(engine, prompt)
    calls = adding_hook(engine.model.model.layers[1], 3.0)
    steered_logits = _fast_logits(engine, prompt)
    assert calls == [engine.count_tokens(prompt)]  # the prefill ran through the layer module
    calls.clear()
    steered_ids, stats = _greedy(engine, prompt)
    # Once for the prompt, then once per generated token after the first.
    steps = stats.new_tokens - 1 + (stats.stop_reason == "eos")
    assert calls == [stats.prompt_tokens] + [1] * steps
    assert not torch.allclose(steered_logits, plain_logits)
    assert steered_ids != plain_ids
    # The modification is the one transformers' forward applies with the same hook.
    torch.testing.assert_close(
        steered_logits, _hf_logits(engine, prompt), atol=2e-2 if option == "int8" else 1e-5, rtol=0
    )


def test_hooks_off_the_layers_use_the_transformers_forward(
    engines: dict[str, TransformersEngine],
    adding_hook: Callable[[torch.nn.Module, float], list[int]],
) -> None:
    engine = engines["fast"]
    calls = adding_hook(engine.model.model.layers[0].mlp, 1.0)
    _, stats = _greedy(engine, _prompt(engine))
    assert calls  # the sub-module hook fired: the transformers forward ran
    assert len(calls) == stats.new_tokens + (stats.stop_reason == "eos")


def test_cached_prefix_is_reused_and_gives_the_same_answer(
    engines: dict[str, TransformersEngine],
    adding_hook: Callable[[torch.nn.Module, float], list[int]],
) -> None:
    engine = engines["fast"]
    fast = engine.optimization.fast
    assert fast is not None
    first = _prompt(engine)
    follow_up = first + "Fine, thanks.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
    cold = _fast_logits(engine, follow_up)
    fast.forget()
    _greedy(engine, first)
    cache = fast.new_cache()
    kept = len(cache.token_ids)
    assert kept >= engine.count_tokens(first) - 1
    warm = fast.prefill(cache, engine.encode(follow_up)[0].tolist())[0]
    fast.release(cache)
    torch.testing.assert_close(warm, cold, atol=1e-5, rtol=1e-5)
    # Other hooks changed the cached keys' meaning: nothing may be reused.
    calls = adding_hook(engine.model.model.layers[0], 0.5)
    cache = fast.new_cache()
    fast.prefill(cache, engine.encode(follow_up)[0].tolist())
    fast.release(cache)
    assert calls == [engine.count_tokens(follow_up)]


def test_hooks_with_equal_cache_keys_keep_the_prefix(
    engines: dict[str, TransformersEngine],
) -> None:
    """A controller re-installing the same steering each turn can keep the prefix cache."""
    engine = engines["fast"]
    fast = engine.optimization.fast
    assert fast is not None
    layer = engine.model.model.layers[1]
    calls: list[int] = []

    def make_hook() -> Any:
        def hook(_module: Any, _inputs: Any, output: Any) -> Any:
            calls.append(int(output.shape[1]))
            return output + 0.25

        hook.cache_key = ("steer", 1, 0.25)  # type: ignore[attr-defined]
        return hook

    first = _prompt(engine)
    follow_up = first + "Fine.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
    fast.forget()
    handle = layer.register_forward_hook(make_hook())
    _greedy(engine, first)
    handle.remove()
    calls.clear()
    handle = layer.register_forward_hook(make_hook())  # a new closure, same cache key
    try:
        cache = fast.new_cache()
        warm = fast.prefill(cache, engine.encode(follow_up)[0].tolist())[0]
        fast.release(cache)
        assert calls[0] < engine.count_tokens(follow_up)  # only the new tokens ran
        assert warm.shape[-1] == len(engine.tokenizer)
        torch.testing.assert_close(warm, _fast_logits(engine, follow_up), atol=1e-5, rtol=1e-5)
    finally:
        handle.remove()


def test_long_reply_grows_the_cache(engines: dict[str, TransformersEngine]) -> None:
    prompt = _prompt(engines["none"])
    settings = GenerationSettings(
        max_new_tokens=CACHE_GRANULARITY + 20,
        min_new_tokens=CACHE_GRANULARITY + 20,
        temperature=0.0,
        repetition_penalty=1.0,
    )
    fast_ids, _ = _greedy(engines["fast"], prompt, settings)
    reference, _ = _greedy(engines["none"], prompt, settings)
    assert len(fast_ids) > CACHE_GRANULARITY
    assert fast_ids == reference


def test_sampling_and_processors_work_on_the_fast_path(
    engines: dict[str, TransformersEngine],
) -> None:
    settings = GenerationSettings(max_new_tokens=10, temperature=0.9, seed=5, min_new_tokens=3)
    prompt = _prompt(engines["fast"])
    first, _ = _greedy(engines["fast"], prompt, settings)
    second, _ = _greedy(engines["none"], prompt, settings)
    assert first == second
    assert len(first) >= 3


def test_quantized_weights_are_cached_by_model_and_method(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(tmp_path / "models"))

    def fresh() -> torch.nn.Module:
        return AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)

    first = quantize_model(fresh(), "int8", model_id="tiny/a")
    assert not first.reused_cache and first.cache_path is not None
    assert first.cache_path.is_file()
    assert first.cache_path.parent == quantized_cache_folder("tiny/a", "int8")
    assert "int8" in first.cache_path.parent.name
    again_model = fresh()
    again = quantize_model(again_model, "int8", model_id="tiny/a")
    assert again.reused_cache and again.cache_path == first.cache_path
    other = quantize_model(fresh(), "int8", model_id="tiny/b")
    assert not other.reused_cache and other.cache_path != first.cache_path
    # No staging files are left behind by the atomic write.
    assert [p.name for p in first.cache_path.parent.iterdir()] == [first.cache_path.name]
    # Reused weights are the ones quantized the first time.
    reference = fresh()
    quantize_model(reference, "int8")
    ids = torch.tensor([[1, 5, 9, 30]])
    with torch.inference_mode():
        torch.testing.assert_close(again_model(ids).logits, reference(ids).logits)


def test_changed_weights_are_not_served_from_a_stale_cache(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoModelForCausalLM

    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(tmp_path / "models"))
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    quantize_model(model, "int8", model_id="tiny/changing")
    changed = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    with torch.no_grad():
        changed.model.layers[0].mlp.down_proj.weight.mul_(2.0)
    report = quantize_model(changed, "int8", model_id="tiny/changing")
    assert not report.reused_cache


def test_smoothing_keeps_the_float_model_s_output(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from roleplay.engine.smoothing import smooth_model

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ids = torch.tensor([tokenizer("I feel happy and calm today.")["input_ids"]])
    with torch.inference_mode():
        before = model(ids).logits
    embedding = model.model.embed_tokens.weight.detach().clone()
    assert smooth_model(model, tokenizer) == 2 * 4 + 1
    with torch.inference_mode():
        after = model(ids).logits
    torch.testing.assert_close(after, before, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(model.model.embed_tokens.weight, embedding)  # lookup unscaled
    assert model.lm_head.weight is not model.model.embed_tokens.weight


def test_int8_engine_reuses_smoothed_weights_from_the_cache(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(tmp_path / "models"))
    first = TransformersEngine.load(str(tiny_model_dir), optimization="int8")
    second = TransformersEngine.load(str(tiny_model_dir), optimization="int8")
    assert any("quantized" in note and "smoothed" in note for note in first.optimization.notes)
    assert any("reused cached" in note for note in second.optimization.notes)
    prompt = _prompt(first)
    torch.testing.assert_close(_fast_logits(second, prompt), _fast_logits(first, prompt))
    torch.testing.assert_close(
        second.model.model.layers[0].input_layernorm.weight,
        first.model.model.layers[0].input_layernorm.weight,
    )


def test_a_cpu_without_int8_kernels_keeps_a_working_float_model(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import roleplay.engine.quantize as quantize

    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(tmp_path / "models"))
    # Fill the cache first, so the failure hits the reuse path (cached smoothed norms).
    TransformersEngine.load(str(tiny_model_dir), optimization="int8")

    def no_kernels(*_: Any) -> Any:
        raise RuntimeError("Didn't find engine for operation quantized::linear_prepack")

    monkeypatch.setattr(quantize, "_prepack", no_kernels)
    engine = TransformersEngine.load(str(tiny_model_dir), optimization="int8")
    plain = TransformersEngine.load(str(tiny_model_dir), optimization="none")
    assert engine.optimization.method == "fast"
    assert any("int8 unavailable" in note for note in engine.optimization.notes)
    prompt = _prompt(plain)
    torch.testing.assert_close(_fast_logits(engine, prompt), _hf_logits(plain, prompt))


def test_unknown_quantization_method_is_refused(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with pytest.raises(ValueError, match="unknown quantization method"):
        quantize_model(model, "int3")


def _tiny_other_architecture(tiny_model_dir: Path, folder: Path, config: Any) -> Path:
    """A random model of another architecture with the tiny Llama's tokenizer."""
    from transformers import AutoModelForCausalLM

    folder.mkdir(parents=True)
    for file in tiny_model_dir.iterdir():
        if file.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(file, folder / file.name)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    return folder


def test_other_architectures_fall_back_to_transformers(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from transformers import AutoTokenizer, GPT2Config

    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(tmp_path / "models"))
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=512)
    folder = _tiny_other_architecture(tiny_model_dir, tmp_path / "gpt2", config)
    engine = TransformersEngine.load(str(folder))
    assert engine.optimization.method == "none"
    assert engine.optimization.fast is None
    assert unsupported_reason(engine.model) is not None
    _, stats = _greedy(engine, _prompt(engine))
    assert stats.new_tokens + (stats.stop_reason == "eos") >= 1
    quantized = TransformersEngine.load(str(folder), optimization="int8")
    assert quantized.optimization.fast is None
    assert any("no fast forward" in note for note in quantized.optimization.notes)
    list(quantized.stream(_prompt(quantized), GREEDY))


def test_qwen2_with_attention_biases_uses_the_fast_forward(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    from transformers import AutoTokenizer, Qwen2Config

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    folder = _tiny_other_architecture(tiny_model_dir, tmp_path / "qwen2", config)
    fast = TransformersEngine.load(str(folder), optimization="fast")
    plain = TransformersEngine.load(str(folder), optimization="none")
    assert fast.optimization.fast is not None
    with torch.no_grad():  # random biases: zero-initialised ones would test nothing
        for layer_fast, layer_plain in zip(
            fast.model.model.layers, plain.model.model.layers, strict=True
        ):
            for name in ("q_proj", "k_proj", "v_proj"):
                bias = torch.randn_like(getattr(layer_plain.self_attn, name).bias)
                getattr(layer_plain.self_attn, name).bias.copy_(bias)
                getattr(layer_fast.self_attn, name).bias.copy_(bias)
    prompt = _prompt(plain)
    torch.testing.assert_close(_fast_logits(fast, prompt), _hf_logits(plain, prompt))


def test_optimization_comes_from_the_argument_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tiny_model_dir: Path
) -> None:
    monkeypatch.setenv(OPTIMIZATION_ENV, "none")
    assert requested_optimization(None) == "none"
    assert requested_optimization("int8") == "int8"
    engine = TransformersEngine.load(str(tiny_model_dir))
    assert engine.optimization.method == "none"
    monkeypatch.setenv(OPTIMIZATION_ENV, "turbo")
    with pytest.raises(RoleplayError, match="ROLEPLAY_ENGINE_OPTIMIZATION"):
        requested_optimization(None)
    monkeypatch.delenv(OPTIMIZATION_ENV)
    assert requested_optimization(None) == "auto"


def test_threads_come_from_the_argument_the_environment_or_the_free_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert choose_threads(3) == 3
    monkeypatch.setenv(THREADS_ENV, "2")
    assert choose_threads() == 2
    monkeypatch.delenv(THREADS_ENV)
    monkeypatch.setattr("os.getloadavg", lambda: (100.0, 0.0, 0.0))
    assert choose_threads() == 1
    monkeypatch.setattr("os.getloadavg", lambda: (0.0, 0.0, 0.0))
    assert choose_threads() >= 1


def test_suppress_tokens_until_matches_transformers() -> None:
    scores = torch.randn(1, 50)
    ours = SuppressTokensUntil(prompt_length=4, min_new_tokens=2, token_ids=[3, 7])
    theirs = MinNewTokensLengthLogitsProcessor(4, 2, [3, 7])
    for length in range(4, 8):
        ids = torch.zeros(1, length, dtype=torch.long)
        torch.testing.assert_close(ours(ids, scores.clone()), theirs(ids, scores.clone()))


def test_seeded_replies_do_not_depend_on_the_previous_reply(
    engines: dict[str, TransformersEngine],
) -> None:
    """Prefix reuse changes float rounding, so a seeded reply is always computed from scratch."""
    engine = engines["fast"]
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=3)
    prompt = _prompt(engine)
    alone = "".join(event.text for event in engine.stream(prompt, settings))
    for _ in engine.stream(prompt + "x", GenerationSettings(max_new_tokens=2)):
        pass  # an unseeded reply leaves its prefix cached behind
    again = "".join(event.text for event in engine.stream(prompt, settings))
    assert again == alone


def test_same_steering_each_turn_keeps_the_prefix_and_new_steering_drops_it(
    engines: dict[str, TransformersEngine],
) -> None:
    """The controller installs fresh steering hooks every turn; equal vectors must not cost
    a full prompt recomputation, while changed vectors must never reuse stale keys."""
    from roleplay.control.hooks import steering_applied

    engine = engines["fast"]
    fast = engine.optimization.fast
    assert fast is not None
    hidden = engine.model.config.hidden_size
    deltas = {1: torch.full((hidden,), 0.25)}
    first = _prompt(engine)
    follow_up = first + "Fine.<|im_end|>\n<|im_start|>user\nAnd you?<|im_end|>\n"
    total = engine.count_tokens(follow_up)
    computed: list[int] = []

    def count(_module: Any, inputs: Any) -> None:
        computed.append(int(inputs[0].shape[1]))

    count.cache_key = ("count",)  # type: ignore[attr-defined]
    counter = engine.model.model.layers[0].register_forward_pre_hook(count)
    try:
        fast.forget()
        with steering_applied(engine.model, deltas):
            _greedy(engine, first)
        with steering_applied(engine.model, {1: deltas[1].clone()}):  # equal, not the same
            cache = fast.new_cache()
            steered = fast.prefill(cache, engine.encode(follow_up)[0].tolist())[0]
            fast.release(cache)
        assert 0 < computed[-1] < total  # only the new tokens ran
        with steering_applied(engine.model, {1: torch.full((hidden,), -0.25)}):
            cache = fast.new_cache()
            other = fast.prefill(cache, engine.encode(follow_up)[0].tolist())[0]
            fast.release(cache)
        assert computed[-1] == total  # different steering: everything recomputed
    finally:
        counter.remove()
    assert not torch.allclose(steered, other)


@pytest.mark.parametrize("option", ["fast", "int8"])
def test_scripted_decode_step_is_bit_identical_to_the_eager_step(
    engines: dict[str, TransformersEngine], option: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TorchScript only removes the Python between the operators, never changes a number."""
    from roleplay.engine import fast_llama, scripted_decode

    assert scripted_decode.scripted_layer_step() is not None
    engine = engines[option]
    fast = engine.optimization.fast
    assert fast is not None
    ids = engine.encode(_prompt(engine))[0].tolist()

    def decode_logits() -> list[torch.Tensor]:
        fast.forget()
        cache = fast.new_cache()
        logits = [fast.prefill(cache, ids)]
        for _ in range(5):
            logits.append(fast.forward(cache, [int(logits[-1].argmax())]))
        fast.forget()
        return logits

    scripted = decode_logits()
    calls: list[int] = []

    def eager_only() -> None:
        calls.append(1)
        return None

    monkeypatch.setattr(fast_llama, "scripted_layer_step", eager_only)
    eager = decode_logits()
    assert calls  # the fast path asked for the scripted step and ran the eager one
    for with_script, without in zip(scripted, eager, strict=True):
        assert torch.equal(with_script, without)


def test_scripted_decode_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from roleplay.engine import scripted_decode

    monkeypatch.setenv(scripted_decode.SCRIPTED_DECODE_ENV, "0")
    scripted_decode.scripted_layer_step.cache_clear()
    try:
        assert scripted_decode.scripted_layer_step() is None
    finally:
        scripted_decode.scripted_layer_step.cache_clear()
