"""Fixtures for the controller tests: a tiny random Llama (built once) and a scratch home."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.helpers.tiny_models import build_tiny_llama


@pytest.fixture(autouse=True)
def scratch_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test writes its caches under its own temporary ROLEPLAY_HOME."""
    home = tmp_path / "home"
    monkeypatch.setenv("ROLEPLAY_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), layers=4, hidden=32)


@pytest.fixture(scope="session")
def tiny(tiny_folder: Path) -> Any:
    """(model, tokenizer, model_id) of the tiny model, shaped like a LoadedModel."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_folder, dtype=torch.float32)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    return SimpleNamespace(model=model, tokenizer=tokenizer, model_id="tiny-llama-test")


@pytest.fixture
def no_hooks_left(tiny: Any) -> Iterator[None]:
    """Fail the test if a steering hook is still attached to the tiny model afterwards."""
    from roleplay.control.hooks import steering_hook_count

    assert steering_hook_count(tiny.model) == 0
    yield
    assert steering_hook_count(tiny.model) == 0, "steering hooks leaked"


def make_card(
    big_five: dict[str, float] | None = None,
    attributes: dict[str, float] | None = None,
    extensions: dict[str, Any] | None = None,
) -> Any:
    """A stand-in for roleplay.cards' card: only the fields the controller reads."""
    scores = dict(big_five or {})
    return SimpleNamespace(
        personality=SimpleNamespace(big_five=SimpleNamespace(as_dict=lambda: dict(scores))),
        attributes=dict(attributes or {}),
        extensions=dict(extensions or {}),
    )
