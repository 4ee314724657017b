"""llama.cpp's OpenAI-compatible server, loading its model as the platform's engine does.

``python tests/helpers/llama_server_main.py --model ...`` takes llama_cpp.server's own
arguments. The only difference from ``python -m llama_cpp.server`` is the weight-repacking
choice (``roleplay.engine.llama_cpp_repack``): on CPUs where llama.cpp's AMX kernels crash,
the tests' server would otherwise die on its first request.
"""

from __future__ import annotations

import runpy

from roleplay.engine.llama_cpp_repack import configured_model_loading

if __name__ == "__main__":
    with configured_model_loading():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
