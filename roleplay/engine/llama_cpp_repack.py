"""Whether llama.cpp may repack a model's weights into its CPU "extra" buffer types.

llama.cpp repacks quantized weights at load time into layouts its CPU kernels prefer (the
AVX2/NEON ``REPACK`` buffers, and on Sapphire Rapids-class CPUs the ``AMX`` buffer). A
build with ``AMX_INT8 = 1`` crashes the process (SIGSEGV in ``ggml_backend_amx_mul_mat``)
on the first evaluation of a quantized model on some of those machines: seen here on
2026-12-05 with llama-cpp-python 0.3.36 (pip compiles it with ``-march=native``, so any
machine with AMX gets it) and the embedded Q4_1 model (and a tiny Q4_K_M test model);
llama.cpp issue #20824 and stanfordnlp/dspy#10079 report the same. A crash kills the chat,
the server and the hidden-state reader alike, with no Python error to catch, so ``auto``
turns repacking off wherever the build uses AMX. The weights are the same; the kernels
differ, so results differ in rounding (as between any two CPUs) and in speed.

llama-cpp-python's ``Llama`` does not take the ``use_extra_bufts`` model parameter, so it is
set by handing ``Llama`` default parameters with it cleared, for the length of one load.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from roleplay.settings import WeightRepacking, get_settings

_AMX_MARKER = "AMX_INT8 = 1"
_patch_lock = threading.Lock()


def build_uses_amx(llama_cpp: Any) -> bool:
    """True when this llama.cpp build runs AMX kernels (its system info says so)."""
    info = llama_cpp.llama_print_system_info()
    text = info.decode("utf-8", "replace") if isinstance(info, bytes) else str(info)
    return _AMX_MARKER in text


def repacking_enabled(llama_cpp: Any, choice: WeightRepacking) -> bool:
    """The setting resolved for this build: ``auto`` is on unless the build uses AMX."""
    if choice == "on":
        return True
    if choice == "off":
        return False
    return not build_uses_amx(llama_cpp)


@contextmanager
def model_loading(*, repack: bool) -> Iterator[None]:
    """Models loaded inside use (or skip) llama.cpp's repacked weight buffers."""
    if repack:
        yield
        return
    # ``Llama.__init__`` calls the low-level module's function by attribute lookup.
    low_level: Any = sys.modules["llama_cpp.llama_cpp"]
    with _patch_lock:
        original = low_level.llama_model_default_params

        def without_repacking() -> Any:
            params = original()
            params.use_extra_bufts = False
            return params

        low_level.llama_model_default_params = without_repacking
        try:
            yield
        finally:
            low_level.llama_model_default_params = original


def configured_model_loading() -> AbstractContextManager[None]:
    """``model_loading`` with the ``llama_cpp_repack`` setting resolved for this build."""
    import llama_cpp

    return model_loading(repack=repacking_enabled(llama_cpp, get_settings().llama_cpp_repack))
