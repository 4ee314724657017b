"""What models a user can chat with: the embedded one, GGUF files in the data dir, a server's.

``roleplay models`` prints this; reading a GGUF's header is cheap (``gguf_check``), so every
file is described by its architecture and size without loading it, and an unusable file is
listed with the reason instead of hiding it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from roleplay.errors import RoleplayError
from roleplay.paths import models_dir


@dataclass(frozen=True)
class ModelEntry:
    name: str  # what to pass to --model
    source: str  # embedded | data dir | server
    backend: str  # the backend that runs it
    architecture: str = ""
    size_bytes: int = 0
    problem: str = ""  # why it cannot be used, if it cannot

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _gguf_entry(path: Path, source: str, name: str) -> ModelEntry:
    from roleplay.engine.gguf_check import read_gguf_header

    try:
        info = read_gguf_header(path)
    except RoleplayError as error:
        reason = error.message.split(": ", 1)[-1]
        return ModelEntry(name, source, "llama.cpp", problem=reason)
    problem = "" if info.has_chat_template else "no chat template (not a chat model)"
    return ModelEntry(name, source, "llama.cpp", info.architecture, info.size, problem)


def local_models() -> list[ModelEntry]:
    """The embedded default and every ``*.gguf`` under the data dir's models folder."""
    from roleplay.engine.default_model import DEFAULT_MODEL_NAME, default_gguf_path

    entries: list[ModelEntry] = []
    try:
        entries.append(
            _gguf_entry(default_gguf_path(), "embedded", f"(default) {DEFAULT_MODEL_NAME}")
        )
    except RoleplayError as error:
        entries.append(ModelEntry("(default)", "embedded", "llama.cpp", problem=error.message))
    folder = models_dir()
    if folder.is_dir():
        for path in sorted(folder.rglob("*.gguf")):
            entries.append(_gguf_entry(path, "data dir", str(path)))
    return entries


def server_models(base_url: str, api_key: str | None) -> list[ModelEntry]:
    from roleplay.engine.openai_engine import OpenAIEngine

    engine = OpenAIEngine.connect(base_url, api_key=api_key)
    return [ModelEntry(name, "server", "openai") for name in engine.list_models()]
