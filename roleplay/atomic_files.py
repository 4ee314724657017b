"""Whole-or-nothing file writes: data goes to a temporary file beside the target first.

Shared by the card importer/exporter and the lorebook store, so that an interrupted write
never leaves half a file where a reader (the card registry, the lorebook list) would see it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from roleplay.errors import RoleplayError


def write_temporary(path: Path, data: bytes) -> Path:
    """``data`` in a new, synced file beside ``path``; the caller renames or removes it.

    Same folder as the target so that ``os.replace`` is a rename on one file system; a dot
    name with a .tmp suffix so that folder listings (cards, lorebooks) never show it.
    """
    try:
        handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as error:
        raise RoleplayError(f"cannot write in {path.parent}: {error.strerror or error}") from None
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise RoleplayError(f"cannot write {path}: {error.strerror or error}") from None
    return temporary


def replace_atomically(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or what it held before, never half of it."""
    temporary = write_temporary(path, data)
    try:
        os.replace(temporary, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise RoleplayError(f"cannot write {path}: {error.strerror or error}") from None
