"""A model file's identity by content, computed once per file version.

Steering vectors and other per-model caches are keyed by what the file *is*, not where it
lies: a renamed or copied GGUF keeps its vectors, an edited or re-quantised one does not.
Hashing a 4 GB file takes seconds, so the digest is remembered in a small JSON file keyed
by (absolute path, size, modification time) and recomputed only when one of those changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from roleplay.paths import cache_dir

DIGEST_LENGTH = 16
_CHUNK = 8 * 1024 * 1024


def _memo_path() -> Path:
    return cache_dir() / "file-digests.json"


def _read_memo() -> dict[str, str]:
    try:
        loaded = json.loads(_memo_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in loaded.items()} if isinstance(loaded, dict) else {}


def _write_memo(memo: dict[str, str]) -> None:
    target = _memo_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(prefix=".digests-", dir=target.parent)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(memo, handle)
        os.replace(temporary, target)
    except OSError:
        pass  # a read-only data dir only costs the hashing again next time


def content_digest(path: Path) -> str:
    """The first ``DIGEST_LENGTH`` hex digits of the file's SHA-256."""
    resolved = path.resolve()
    stat = resolved.stat()
    key = f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}"
    memo = _read_memo()
    if key in memo:
        return memo[key]
    sha = hashlib.sha256()
    with open(resolved, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            sha.update(chunk)
    digest = sha.hexdigest()[:DIGEST_LENGTH]
    memo[key] = digest
    _write_memo(memo)
    return digest
