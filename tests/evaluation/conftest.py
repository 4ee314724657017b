from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def roomy_tiny_engine(tiny_model_dir: Path) -> object:
    """The tiny model with a context window that fits a bundled card's whole system prompt
    (its 400-token vocabulary spells text in many more tokens than a real model)."""
    from roleplay.engine.transformers_engine import TransformersEngine

    return TransformersEngine.load(str(tiny_model_dir), context_window=4096)
