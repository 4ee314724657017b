"""The on-disk cache of steering vectors, keyed so that nothing is ever reused by mistake.

One entry per (model, attribute): ``<cache_dir>/steering/<model slug>/<attribute>-<digest>``
as a safetensors file of the directions plus a JSON file holding the full key and the
layer scales. The digest hashes the key: model id (for a GGUF, its content digest), the
backend that read the activations (llama.cpp's quantised kernels and transformers'
float32 ones give slightly different vectors), the attribute's data hash (its pairs), the
layers, the method, the extraction prompt and the format version. A different model,
an edited pair or other layers give another file. On load the stored key is compared in
full and the hidden size checked, so a stale or foreign file is rebuilt, never used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from roleplay.control.attributes import AttributeSpec
from roleplay.control.vectors import SteeringVector
from roleplay.paths import cache_dir, safe_slug

CACHE_FORMAT = 2


def steering_cache_dir() -> Path:
    return cache_dir() / "steering"


def cache_key(
    model_id: str,
    spec: AttributeSpec,
    layers: Sequence[int],
    method: str,
    system_prompt: str,
    *,
    backend: str = "transformers",
) -> dict[str, Any]:
    return {
        "format": CACHE_FORMAT,
        "model_id": model_id,
        "backend": backend,
        "attribute": spec.name,
        "data_hash": spec.data_hash,
        "layers": sorted(layers),
        "method": method,
        "system_prompt_hash": hashlib.sha256(system_prompt.encode("utf-8")).hexdigest()[:16],
    }


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode("utf-8")).hexdigest()[:16]


def entry_paths(key: dict[str, Any]) -> tuple[Path, Path]:
    """(tensor file, JSON file) of the entry for ``key``."""
    folder = steering_cache_dir() / safe_slug(str(key["model_id"]))
    stem = f"{key['attribute']}-{_digest(key)}"
    return folder / f"{stem}.safetensors", folder / f"{stem}.json"


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(descriptor)
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def save_vector(key: dict[str, Any], vector: SteeringVector) -> Path:
    from safetensors.torch import save_file

    tensors_path, meta_path = entry_paths(key)
    tensors = {f"layer.{layer}": vector.directions[layer].contiguous() for layer in vector.layers}
    _atomic_write(tensors_path, lambda target: save_file(tensors, target))
    meta = {
        "key": key,
        "layer_scales": {str(layer): scale for layer, scale in vector.layer_scales.items()},
        "stats": dict(vector.stats),
    }
    # The JSON goes last: its presence marks a complete entry.
    _atomic_write(meta_path, lambda target: Path(target).write_text(json.dumps(meta, indent=2)))
    return meta_path


def load_vector(key: dict[str, Any], hidden_size: int) -> SteeringVector | None:
    """The cached vector for exactly ``key``, or None (missing, stale or unreadable)."""
    from safetensors.torch import load_file

    tensors_path, meta_path = entry_paths(key)
    if not (meta_path.is_file() and tensors_path.is_file()):
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            return None
        tensors = load_file(str(tensors_path))
        directions = {layer: tensors[f"layer.{layer}"] for layer in key["layers"]}
        scales = {layer: float(meta["layer_scales"][str(layer)]) for layer in key["layers"]}
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if any(d.ndim != 1 or d.shape[0] != hidden_size for d in directions.values()):
        return None
    return SteeringVector(
        attribute=str(key["attribute"]),
        model_id=str(key["model_id"]),
        directions=directions,
        layer_scales=scales,
        method=str(key["method"]),
        stats={k: float(v) for k, v in meta.get("stats", {}).items()},
    )


def cached_entries(model_id: str | None = None) -> list[dict[str, Any]]:
    """Keys of the complete entries in the cache (of one model when given)."""
    root = steering_cache_dir()
    if not root.is_dir():
        return []
    folders = [root / safe_slug(model_id)] if model_id else sorted(root.iterdir())
    found = []
    for folder in folders:
        for meta_path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                found.append(json.loads(meta_path.read_text())["key"])
            except (OSError, ValueError, KeyError):
                continue
    return found
