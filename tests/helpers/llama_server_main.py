"""llama.cpp's OpenAI-compatible server, loading its model as the platform's engine does.

``python tests/helpers/llama_server_main.py --model ...`` takes llama_cpp.server's own
arguments. The only difference from ``python -m llama_cpp.server`` is the weight-repacking
choice (``roleplay.engine.llama_cpp_repack``): on CPUs where llama.cpp's AMX kernels crash,
the tests' server would otherwise die on its first request.
"""

from __future__ import annotations

import runpy

import llama_cpp

from roleplay.engine.llama_cpp_repack import model_loading, repacking_enabled
from roleplay.settings import get_settings

if __name__ == "__main__":
    with model_loading(repack=repacking_enabled(llama_cpp, get_settings().llama_cpp_repack)):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
