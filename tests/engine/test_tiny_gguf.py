"""The tiny GGUF builder: llama.cpp runs the same model transformers runs, token for token.

The logit comparison is what the llama.cpp tests lean on: if the GGUF writer got a tensor name,
the Llama q/k permutation, the Qwen2 biases, the RoPE base or the norm epsilon wrong, llama.cpp
would still load and generate, only a different model. Tolerances (logits have std ~1 by
construction, see ``tests.helpers.tiny_gguf``):

* F32 KV cache: both sides compute in float32 and differ only in summation order; observed max
  abs difference 1e-6..5e-6 over several shapes and seeds. Allowed: 1e-4 x logit std.
* llama.cpp's default F16 KV cache rounds keys and values to 11 significant bits (relative
  error ~5e-4), which shows up as 0.8e-3..1.8e-3 in the logits. Allowed: 1e-2 x logit std.
  (Flash attention, not used here, rounds further: ~5e-3.)

A build that skips the Llama permutation differs by ~4 (a whole logit std), so either tolerance
separates a right file from a wrong one by orders of magnitude; a test below checks that.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import llama_cpp
import numpy as np
import pytest

from roleplay.engine.llama_cpp_repack import configured_model_loading
from tests.helpers import tiny_gguf
from tests.helpers.tiny_gguf import Arch, build_tiny_gguf, quantize_gguf

GGML_TYPE_F32 = 0  # llama_cpp.GGML_TYPE_F32, for the KV cache
# Long enough that positions (RoPE) and attention over many keys matter; digits and markup
# exercise the pre-tokenizer differences between GPT-2 and Qwen2 regexes.
TEXT = 'Hello there! How are you today? *smiles warmly* {"mood": "calm"} I choose 3, 4 or 5.'
EXACT_TOLERANCE = 1e-4
F16_CACHE_TOLERANCE = 1e-2


@dataclass(frozen=True)
class Built:
    arch: Arch
    gguf: Path
    hf: Path


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp(f"tiny-gguf-{request.param}")
    path = build_tiny_gguf(folder / "model.gguf", arch=request.param, hf_folder=folder / "hf")
    return Built(request.param, path, folder / "hf")


def _load(path: Path, **kwargs: Any) -> Any:
    # As the engine loads (llama.cpp's AMX kernels crash quantized models on some CPUs).
    with configured_model_loading():
        return llama_cpp.Llama(
            model_path=str(path), n_ctx=256, verbose=False, logits_all=False, **kwargs
        )


def _last_logits(llm: Any, ids: list[int]) -> np.ndarray:
    """llama.cpp's logits for the last position after evaluating ``ids`` from an empty cache.

    With ``logits_all=False`` llama-cpp-python 0.3.36 no longer copies logits into
    ``llm.scores`` (sampling happens in llama.cpp), so read the context's output row directly.
    """
    llm.reset()
    llm.eval(ids)
    row = llama_cpp.llama_get_logits_ith(llm.ctx, -1)
    return np.ctypeslib.as_array(row, shape=(llm.n_vocab(),)).copy()


def _hf(folder: Path) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model.eval()
    return AutoTokenizer.from_pretrained(folder), model


def _hf_last_logits(model: Any, ids: list[int]) -> np.ndarray:
    import torch

    with torch.no_grad():
        return model(torch.tensor([ids])).logits[0, -1].float().numpy()


def _relative_diff(got: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(got - ref).max() / ref.std())


@pytest.fixture(scope="module")
def hf(built: Built) -> Iterator[tuple[Any, Any]]:
    yield _hf(built.hf)


def test_llama_cpp_tokenizes_like_transformers(built: Built, hf: tuple[Any, Any]) -> None:
    tokenizer, _ = hf
    llm = _load(built.gguf)
    assert llm.tokenize(b"Hello there") == tokenizer("Hello there")["input_ids"]
    assert llm.tokenize(TEXT.encode()) == tokenizer(TEXT)["input_ids"]
    chat = "<|im_start|>user\nHi<|im_end|>\n"
    assert llm.tokenize(chat.encode(), special=True) == tokenizer(chat)["input_ids"]
    assert llm.token_eos() == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert llm.detokenize(tokenizer(TEXT)["input_ids"]).decode() == TEXT


def test_chat_completion_runs(built: Built) -> None:
    llm = _load(built.gguf)
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Hi"}], max_tokens=8, temperature=0
    )
    choice = reply["choices"][0]
    assert isinstance(choice["message"]["content"], str)
    assert choice["finish_reason"] in {"stop", "length"}
    assert llm.metadata["tokenizer.chat_template"] == tiny_gguf.CHATML_TEMPLATE


def test_logits_match_transformers(built: Built, hf: tuple[Any, Any]) -> None:
    tokenizer, model = hf
    ids = tokenizer(TEXT)["input_ids"]
    reference = _hf_last_logits(model, ids)
    assert 0.5 < reference.std() < 2.0  # the tolerances below are relative to this scale

    exact = _last_logits(_load(built.gguf, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32), ids)
    assert _relative_diff(exact, reference) < EXACT_TOLERANCE

    default = _last_logits(_load(built.gguf), ids)
    assert _relative_diff(default, reference) < F16_CACHE_TOLERANCE
    assert int(default.argmax()) == int(reference.argmax())


def test_comparison_catches_a_missing_llama_permutation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the permutation the logits are far off: the match above is not vacuous."""
    monkeypatch.setattr(tiny_gguf, "_permute_for_llama_rope", lambda weight, n_head: weight)
    path = build_tiny_gguf(tmp_path / "wrong.gguf", arch="llama", hf_folder=tmp_path / "hf")
    tokenizer, model = _hf(tmp_path / "hf")
    ids = tokenizer(TEXT)["input_ids"]
    got = _last_logits(_load(path, type_k=GGML_TYPE_F32, type_v=GGML_TYPE_F32), ids)
    assert _relative_diff(got, _hf_last_logits(model, ids)) > 100 * F16_CACHE_TOLERANCE


def test_same_seed_same_bytes_and_fast(tmp_path: Path) -> None:
    build_tiny_gguf(tmp_path / "warm.gguf")  # first call pays transformers' lazy imports
    start = time.perf_counter()
    first = build_tiny_gguf(tmp_path / "a.gguf", arch="qwen2", seed=1)
    elapsed = time.perf_counter() - start
    second = build_tiny_gguf(tmp_path / "b.gguf", arch="qwen2", seed=1)
    other = build_tiny_gguf(tmp_path / "c.gguf", arch="qwen2", seed=2)

    def digest(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    assert digest(first) == digest(second) != digest(other)
    assert elapsed < 2.0


def test_rejects_impossible_shapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="kv_heads"):
        build_tiny_gguf(tmp_path / "m.gguf", heads=4, kv_heads=3)
    with pytest.raises(ValueError, match="arch"):
        build_tiny_gguf(tmp_path / "m.gguf", arch="gemma")  # type: ignore[arg-type]


def test_q4_k_m_quantization_loads_and_generates(tmp_path: Path) -> None:
    import gguf

    source = build_tiny_gguf(tmp_path / "f32.gguf", hidden=256, layers=2)
    target = quantize_gguf(source, tmp_path / "q4_k_m.gguf", "Q4_K_M")
    types = {tensor.tensor_type.name for tensor in gguf.GGUFReader(target).tensors}
    assert "Q4_K" in types  # rows of 256 values: real K-quants, no fallback
    assert target.stat().st_size < source.stat().st_size / 4
    llm = _load(target)
    reply = llm.create_chat_completion(
        messages=[{"role": "user", "content": "Hi"}], max_tokens=8, temperature=0
    )
    assert reply["choices"][0]["finish_reason"] in {"stop", "length"}


def test_quantize_refusals_raise(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"not a gguf file")
    with pytest.raises(RuntimeError, match="refused"):
        quantize_gguf(broken, tmp_path / "out.gguf")
    assert not (tmp_path / "out.gguf").exists()
    with pytest.raises(ValueError, match="unknown quantisation kind"):
        quantize_gguf(broken, tmp_path / "out.gguf", "Q4_Z")
