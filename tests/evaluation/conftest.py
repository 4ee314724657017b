from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from roleplay.pipeline import Conversation, PreparedTurn


@pytest.fixture(scope="session")
def roomy_tiny_engine(tiny_model_dir: Path) -> object:
    """The tiny model with a context window that fits a bundled card's whole system prompt
    (its 400-token vocabulary spells text in many more tokens than a real model)."""
    from roleplay.engine.transformers_engine import TransformersEngine

    return TransformersEngine.load(str(tiny_model_dir), context_window=4096)


@pytest.fixture
def prepared_prompts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every prompt the interviews build, recorded from Conversation.prepare."""
    seen: list[str] = []
    original = Conversation.prepare

    def spy(self: Conversation, message: str, history: Any = None) -> PreparedTurn:
        prepared = original(self, message, history)
        seen.append(prepared.prompt.text)
        return prepared

    monkeypatch.setattr(Conversation, "prepare", spy)
    return seen
