"""Resolve a model reference and load it with transformers.

A reference is ``None`` (the embedded default), a local folder, a ``.gguf`` file, or a
Hugging Face model id (loaded from the local HF cache; downloads only when the user allows
them with ROLEPLAY_ALLOW_DOWNLOADS=1). GGUF files are converted once to safetensors under
``models_dir()`` because parsing GGUF takes ~20 s and a safetensors load ~2 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from roleplay.engine.default_model import DEFAULT_MODEL_NAME, default_gguf_path
from roleplay.errors import RoleplayError
from roleplay.paths import configure_library_caches, models_dir

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

CONVERSION_FORMAT_VERSION = 1
StatusCallback = Callable[[str], None]


@dataclass
class LoadedModel:
    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    model_id: str  # stable identity used to key caches (steering vectors, quantized copies)
    source: Path | str


def _quiet_status(_: str) -> None:
    return None


def gguf_cache_folder(gguf_path: Path) -> Path:
    """Cache folder keyed by the GGUF file's identity (name, size, mtime), not its path."""
    stat = gguf_path.stat()
    key = f"{gguf_path.name}:{stat.st_size}:{int(stat.st_mtime)}:{CONVERSION_FORMAT_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return models_dir() / f"{gguf_path.stem}-{digest}"


def _is_complete_conversion(folder: Path) -> bool:
    return (folder / "conversion.json").is_file() and (folder / "model.safetensors").is_file()


def convert_gguf(gguf_path: Path, status: StatusCallback = _quiet_status) -> Path:
    """Convert a GGUF file to a safetensors folder once; return the folder.

    The conversion is written to a temporary folder and renamed into place, so an
    interrupted conversion never leaves a half-written cache behind.
    """
    target = gguf_cache_folder(gguf_path)
    if _is_complete_conversion(target):
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    status(f"Converting {gguf_path.name} to a fast-loading cache (one time, ~20 s)...")
    target.parent.mkdir(parents=True, exist_ok=True)
    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name)
    # transformers refuses to save GGUF-loaded models, but the weights are already
    # dequantized float32; dropping the quantizer marker makes them serializable as is.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    staging = Path(tempfile.mkdtemp(prefix=".converting-", dir=target.parent))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / "conversion.json").write_text(
            json.dumps({"source": str(gguf_path), "format": CONVERSION_FORMAT_VERSION})
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    status("Conversion done.")
    return target


def _folder_identity(folder: Path) -> str:
    """Identify a local model folder by its config and weights' sizes (cheap, stable)."""
    parts = [folder.name]
    for file in sorted(folder.glob("*.json")) + sorted(folder.glob("*.safetensors")):
        parts.append(f"{file.name}:{file.stat().st_size}")
    return f"{folder.name}-{hashlib.sha256('|'.join(parts).encode()).hexdigest()[:12]}"


def resolve_model_source(reference: str | None, status: StatusCallback) -> tuple[Path | str, str]:
    """Return (what to pass to from_pretrained, stable model id)."""
    if reference is None:
        gguf = default_gguf_path()
        folder = convert_gguf(gguf, status)
        return folder, f"{DEFAULT_MODEL_NAME}-{folder.name.rsplit('-', 1)[-1]}"
    path = Path(reference).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        folder = convert_gguf(path, status)
        return folder, folder.name
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise RoleplayError(f"{path}: not a model folder (config.json is missing)")
        return path, _folder_identity(path)
    if path.exists():
        raise RoleplayError(f"{path}: expected a model folder or a .gguf file")
    if reference.count("/") > 1 or reference.startswith((".", "/", "~")):
        raise RoleplayError(f"{reference}: no such model folder or file")
    return reference, reference.replace("/", "--")


def load_model(
    reference: str | None = None,
    *,
    status: StatusCallback = _quiet_status,
    torch_threads: int | None = None,
) -> LoadedModel:
    """Load a causal LM and its tokenizer, offline unless the user allowed downloads."""
    configure_library_caches()
    source, model_id = resolve_model_source(reference, status)
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if torch_threads:
        torch.set_num_threads(torch_threads)
    from transformers.utils import logging as transformers_logging

    status(f"Loading {model_id}...")
    # Our own status line says what is happening; per-tensor bars are noise on a 2 s load.
    transformers_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(source))
        model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
    except OSError as error:
        hint = (
            " (downloads are off; set ROLEPLAY_ALLOW_DOWNLOADS=1 to fetch hub models)"
            if isinstance(source, str)
            else ""
        )
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
        raise RoleplayError(f"cannot load model {reference!r}: {first_line}{hint}") from error
    model.eval()
    if tokenizer.chat_template is None:
        raise RoleplayError(f"model {reference!r} has no chat template; use a chat/instruct model")
    return LoadedModel(model=model, tokenizer=tokenizer, model_id=model_id, source=source)
