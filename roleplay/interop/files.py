"""Atomic writes: a temporary file in the target folder, then ``os.replace``.

A crash, a full disk or a failed check leaves either the old file or none, never half a
card. YAML cards are also read back with the normal loader before they replace anything.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from roleplay.atomic_files import write_temporary
from roleplay.cards.loader import check_card
from roleplay.errors import RoleplayError


def check_target(path: Path, *, force: bool) -> None:
    if path.is_dir():
        raise RoleplayError(f"{path} is a directory")
    if path.exists() and not force:
        raise RoleplayError(f"{path} already exists; use --force to overwrite it")


def write_atomic(path: Path, data: bytes, *, force: bool) -> None:
    check_target(path, force=force)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot create {path.parent}: {error.strerror or error}") from None
    temporary = write_temporary(path, data)
    _replace(temporary, path, force=force)


def write_card_atomic(path: Path, text: str, *, force: bool) -> None:
    """Write YAML card text, but only if the loader accepts it as a valid card."""
    check_target(path, force=force)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise RoleplayError(
            f"the card contains text that is not valid Unicode ({error.reason})"
        ) from None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot create {path.parent}: {error.strerror or error}") from None
    temporary = write_temporary(path, data)
    check = check_card(temporary)
    if check.card is None:
        temporary.unlink(missing_ok=True)
        first = check.errors[0]
        more = f" (and {len(check.errors) - 1} more)" if len(check.errors) > 1 else ""
        raise RoleplayError(
            f"the converted card would not load: line {first.line}: {first.message}{more}"
        )
    _replace(temporary, path, force=force)


def _move_if_absent(temporary: Path, path: Path) -> None:
    # link() fails if the target appeared since check_target(): no silent overwrite in a
    # race. File systems without hard links fall back to a last check and a rename.
    try:
        os.link(temporary, path)
    except FileExistsError:
        raise
    except OSError:
        if path.exists():
            raise FileExistsError(path) from None
        os.replace(temporary, path)
        return
    temporary.unlink()


def _replace(temporary: Path, path: Path, *, force: bool) -> None:
    try:
        if force:
            os.replace(temporary, path)
        else:
            _move_if_absent(temporary, path)
    except FileExistsError:
        temporary.unlink(missing_ok=True)
        raise RoleplayError(f"{path} already exists; use --force to overwrite it") from None
    except OSError as error:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise RoleplayError(f"cannot write {path}: {error.strerror or error}") from None
