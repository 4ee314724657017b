"""Weight repacking: off where llama.cpp's AMX kernels run (they crash on some CPUs)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import llama_cpp
import llama_cpp.llama_cpp as low_level
import pytest

from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats
from roleplay.engine.llama_cpp_engine import LlamaCppEngine
from roleplay.engine.llama_cpp_repack import build_uses_amx, model_loading, repacking_enabled
from tests.helpers.tiny_gguf import build_tiny_gguf

AMX_BUILD = b"CPU : AVX2 = 1 | AVX512 = 1 | AMX_INT8 = 1 | OPENMP = 1 | REPACK = 1 | "
PLAIN_BUILD = b"CPU : AVX2 = 1 | AVX512 = 1 | OPENMP = 1 | REPACK = 1 | "


def _library(info: bytes) -> Any:
    return SimpleNamespace(llama_print_system_info=lambda: info)


def test_auto_turns_repacking_off_only_where_the_build_uses_amx() -> None:
    assert build_uses_amx(_library(AMX_BUILD)) and not build_uses_amx(_library(PLAIN_BUILD))
    assert repacking_enabled(_library(PLAIN_BUILD), "auto") is True
    assert repacking_enabled(_library(AMX_BUILD), "auto") is False
    # An explicit choice wins over the build.
    assert repacking_enabled(_library(AMX_BUILD), "on") is True
    assert repacking_enabled(_library(PLAIN_BUILD), "off") is False


def test_loading_without_repacking_clears_the_parameter_for_that_load_only() -> None:
    assert low_level.llama_model_default_params().use_extra_bufts is True
    with model_loading(repack=False):
        assert low_level.llama_model_default_params().use_extra_bufts is False
    assert low_level.llama_model_default_params().use_extra_bufts is True
    with pytest.raises(RuntimeError), model_loading(repack=False):
        raise RuntimeError("a load that fails")
    assert low_level.llama_model_default_params().use_extra_bufts is True
    with model_loading(repack=True):
        assert low_level.llama_model_default_params().use_extra_bufts is True


@pytest.mark.parametrize("choice", ["on", "off"])
def test_the_engine_loads_with_the_setting(
    choice: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[bool] = []
    real_init = llama_cpp.Llama.__init__

    def spying_init(self: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(bool(low_level.llama_model_default_params().use_extra_bufts))
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(llama_cpp.Llama, "__init__", spying_init)
    monkeypatch.setenv("ROLEPLAY_LLAMA_CPP_REPACK", choice)
    path = build_tiny_gguf(tmp_path / "tiny.gguf", arch="llama")
    engine = LlamaCppEngine.load(str(path), context_window=128, threads=1)
    assert seen == [choice == "on"]
    settings = GenerationSettings(max_new_tokens=4, temperature=0.0, repetition_penalty=1.0)
    stats = GenerationStats()
    prompt = engine.render_chat([ChatMessage("user", "Hello")])
    list(engine.stream(prompt, settings, stats=stats))  # the model still runs
    assert stats.new_tokens > 0
