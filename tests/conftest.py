"""Shared fixtures: every test gets its own ROLEPLAY_HOME; models are built, never downloaded."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# The default model's safetensors conversion is shared by all tests (and kept between runs)
# so it is converted once per checkout, not once per test.
SHARED_MODELS_DIR = REPO_ROOT / ".cache" / "test-models"

# Library caches and offline mode are read when huggingface_hub is first imported, which can
# happen in a session-scoped fixture before any per-test fixture runs: set them up front.
_SESSION_HOME = Path(tempfile.mkdtemp(prefix="roleplay-tests-"))
os.environ["HF_HOME"] = str(_SESSION_HOME / "huggingface")
os.environ["TORCH_HOME"] = str(_SESSION_HOME / "torch")
os.environ["XDG_CACHE_HOME"] = str(_SESSION_HOME / "xdg")
os.environ["MPLCONFIGDIR"] = str(_SESSION_HOME / "matplotlib")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ROLEPLAY_MODELS_DIR"] = str(SHARED_MODELS_DIR)
os.environ.pop("ROLEPLAY_ALLOW_DOWNLOADS", None)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "roleplay-home"
    monkeypatch.setenv("ROLEPLAY_HOME", str(home))
    monkeypatch.setenv("ROLEPLAY_MODELS_DIR", str(SHARED_MODELS_DIR))
    return home


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.helpers.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_engine(tiny_model_dir: Path) -> Iterator[object]:
    from roleplay.engine.transformers_engine import TransformersEngine

    yield TransformersEngine.load(str(tiny_model_dir), context_window=512)


@pytest.fixture(scope="session")
def default_engine() -> object:
    """The real embedded default model (slow tests only)."""
    from roleplay.engine.transformers_engine import TransformersEngine

    return TransformersEngine.load(None)


@pytest.fixture
def characters_dir() -> Path:
    return REPO_ROOT / "characters"


@pytest.fixture(scope="session")
def tiny_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight Llama GGUF (F32) with the ChatML template, built once."""
    from tests.helpers.tiny_gguf import build_tiny_gguf

    folder = tmp_path_factory.mktemp("tiny-gguf")
    return build_tiny_gguf(folder / "tiny-llama.gguf", arch="llama", hf_folder=folder / "hf")
