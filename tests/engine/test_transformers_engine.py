from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import LogitsProcessor
from transformers.generation.logits_process import MinNewTokensLengthLogitsProcessor

from roleplay.engine.base import ChatMessage, Engine, GenerationSettings, GenerationStats
from roleplay.engine.decoding import SuppressTokensUntil
from roleplay.engine.loading import load_model, resolve_model_source
from roleplay.engine.threads import THREADS_ENV, choose_threads
from roleplay.engine.transformers_engine import TransformersEngine
from roleplay.errors import RoleplayError


def _prompt(engine: TransformersEngine) -> str:
    return engine.render_chat(
        [ChatMessage("system", "You are calm."), ChatMessage("user", "Hello")]
    )


def test_engine_satisfies_protocol(tiny_engine: TransformersEngine) -> None:
    assert isinstance(tiny_engine, Engine)
    assert tiny_engine.context_window == 512


def test_render_chat_uses_the_model_chat_template(tiny_engine: TransformersEngine) -> None:
    text = _prompt(tiny_engine)
    assert text == (
        "<|im_start|>system\nYou are calm.<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    )


def test_stream_respects_max_new_tokens_and_fills_stats(tiny_engine: TransformersEngine) -> None:
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=7, temperature=0.9, seed=3)
    list(tiny_engine.stream(_prompt(tiny_engine), settings, stats=stats))
    assert stats.new_tokens <= 7
    assert stats.prompt_tokens == tiny_engine.count_tokens(_prompt(tiny_engine))
    assert stats.seconds > 0
    assert stats.stop_reason in {"length", "eos"}


def test_same_seed_gives_same_reply(tiny_engine: TransformersEngine) -> None:
    settings = GenerationSettings(max_new_tokens=12, temperature=1.0, seed=11)
    first = "".join(e.text for e in tiny_engine.stream(_prompt(tiny_engine), settings))
    second = "".join(e.text for e in tiny_engine.stream(_prompt(tiny_engine), settings))
    assert first == second


def test_stream_matches_generate_greedy(tiny_engine: TransformersEngine) -> None:
    prompt = _prompt(tiny_engine)
    settings = GenerationSettings(max_new_tokens=10, temperature=0.0, repetition_penalty=1.0)
    ids: list[int] = []
    for event in tiny_engine.stream(prompt, settings):
        ids.extend(event.token_ids)
    input_ids = tiny_engine.encode(prompt)
    with torch.inference_mode():
        reference = tiny_engine.model.generate(
            input_ids, max_new_tokens=10, do_sample=False, eos_token_id=None
        )
    expected = reference[0, input_ids.shape[1] :].tolist()
    assert ids == expected[: len(ids)]
    assert ids


class _ForceToken(LogitsProcessor):
    def __init__(self, token_id: int) -> None:
        self.token_id = token_id

    def __call__(self, input_ids: Any, scores: torch.Tensor) -> torch.Tensor:
        forced = torch.full_like(scores, float("-inf"))
        forced[:, self.token_id] = 0.0
        return forced


def test_logits_processors_are_applied(tiny_engine: TransformersEngine) -> None:
    eos = tiny_engine.tokenizer.convert_tokens_to_ids("<|im_end|>")
    stats = GenerationStats()
    events = list(
        tiny_engine.stream(
            _prompt(tiny_engine),
            GenerationSettings(max_new_tokens=5, seed=1),
            logits_processors=[_ForceToken(eos)],
            stats=stats,
        )
    )
    assert events == []
    assert stats.stop_reason == "eos"
    assert stats.new_tokens == 0


def test_stop_string_ends_the_reply(tiny_engine: TransformersEngine) -> None:
    token = tiny_engine.tokenizer("Hello", add_special_tokens=False)["input_ids"][0]
    stop = tiny_engine.tokenizer.decode([token])
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=5, stop_strings=(stop,))
    text = "".join(
        e.text
        for e in tiny_engine.stream(
            _prompt(tiny_engine), settings, logits_processors=[_ForceToken(token)], stats=stats
        )
    )
    assert text == ""
    assert stats.stop_reason == "stop_string"


def test_cancel_event_stops_generation(tiny_engine: TransformersEngine) -> None:
    cancel = threading.Event()
    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=50, seed=2)
    for _ in tiny_engine.stream(_prompt(tiny_engine), settings, cancel=cancel, stats=stats):
        cancel.set()
    assert stats.stop_reason == "cancelled"
    assert stats.new_tokens <= 2


def test_model_folder_without_config_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RoleplayError, match=r"config\.json is missing"):
        resolve_model_source(str(tmp_path), lambda _: None)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RoleplayError, match="no such model"):
        resolve_model_source(str(tmp_path / "nope" / "deeper"), lambda _: None)


def test_unknown_hub_id_offline_is_a_clear_error() -> None:
    with pytest.raises(RoleplayError, match="downloads are off"):
        load_model("nobody/does-not-exist")


def test_hub_id_loads_from_the_local_hugging_face_cache(tiny_model_dir: Path) -> None:
    """A hub id resolves offline when the model is in the HF cache (the user's normal case)."""
    import shutil

    from huggingface_hub import constants

    repo = Path(constants.HF_HUB_CACHE) / "models--local--tiny-chat"
    snapshot = repo / "snapshots" / "0123abcd"
    shutil.copytree(tiny_model_dir, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    loaded = load_model("local/tiny-chat")
    assert loaded.model_id == "local--tiny-chat"
    assert loaded.model.config.num_hidden_layers == 2


def test_min_new_tokens_suppresses_the_end_of_turn(tiny_engine: TransformersEngine) -> None:
    eos = tiny_engine.tokenizer.convert_tokens_to_ids("<|im_end|>")

    class PreferEos(LogitsProcessor):
        def __call__(self, input_ids: Any, scores: torch.Tensor) -> torch.Tensor:
            scores = scores.clone()
            scores[:, eos] = scores.max() + 10.0
            return scores

    stats = GenerationStats()
    settings = GenerationSettings(max_new_tokens=6, min_new_tokens=4, temperature=0.0)
    list(
        tiny_engine.stream(
            _prompt(tiny_engine), settings, logits_processors=[PreferEos()], stats=stats
        )
    )
    assert stats.new_tokens == 4
    assert stats.stop_reason == "eos"


def _greedy_ids(engine: TransformersEngine, prompt: str) -> tuple[list[int], GenerationStats]:
    settings = GenerationSettings(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)
    ids: list[int] = []
    stats = GenerationStats()
    for event in engine.stream(prompt, settings, stats=stats):
        ids.extend(event.token_ids)
    return ids, stats


def test_layer_hooks_fire_and_steer(tiny_engine: TransformersEngine) -> None:
    """Steering hooks on a decoder layer run on the prompt and on every generated token."""
    prompt = _prompt(tiny_engine)
    plain_ids, _ = _greedy_ids(tiny_engine, prompt)
    calls: list[int] = []

    def hook(_module: Any, _inputs: Any, output: Any) -> Any:
        hidden = output[0] if isinstance(output, tuple) else output
        calls.append(int(hidden.shape[1]))
        return hidden + 3.0

    handle = tiny_engine.model.model.layers[1].register_forward_hook(hook)
    try:
        steered_ids, stats = _greedy_ids(tiny_engine, prompt)
    finally:
        handle.remove()
    # Once for the prompt, then once per generated token after the first.
    steps = stats.new_tokens - 1 + (stats.stop_reason == "eos")
    assert calls == [stats.prompt_tokens] + [1] * steps
    assert steered_ids != plain_ids


def test_seeded_replies_do_not_depend_on_the_previous_reply(
    tiny_engine: TransformersEngine,
) -> None:
    settings = GenerationSettings(max_new_tokens=8, temperature=1.0, seed=3)
    prompt = _prompt(tiny_engine)
    alone = "".join(event.text for event in tiny_engine.stream(prompt, settings))
    for _ in tiny_engine.stream(prompt + "x", GenerationSettings(max_new_tokens=2)):
        pass  # an unseeded reply in between
    again = "".join(event.text for event in tiny_engine.stream(prompt, settings))
    assert again == alone


def test_other_architectures_stream(tiny_model_dir: Path, tmp_path: Path) -> None:
    """The decode loop is transformers' forward, so any causal LM works (here GPT-2)."""
    import shutil

    from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config

    folder = tmp_path / "gpt2"
    folder.mkdir()
    for file in tiny_model_dir.iterdir():
        if file.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(file, folder / file.name)
    tokenizer = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    config = GPT2Config(vocab_size=len(tokenizer), n_embd=32, n_layer=2, n_head=4, n_positions=512)
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(config).save_pretrained(folder)
    engine = TransformersEngine.load(str(folder))
    _, stats = _greedy_ids(engine, _prompt(engine))
    assert stats.new_tokens + (stats.stop_reason == "eos") >= 1


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
