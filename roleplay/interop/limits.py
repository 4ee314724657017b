"""Size caps and strict JSON decoding for files from other tools.

Cards arrive from strangers, so every size is checked before anything is read or unpacked:
the file (``stat`` first, then a bounded read in case it grows), the JSON inside a PNG or a
zip, and the zip's members (declared sizes and compression ratio, see ``charx``).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from roleplay.errors import RoleplayError

# PNG avatars are rarely above a few MB; CHARX zips may carry extra images.
MAX_FILE_BYTES = 32_000_000
# The card JSON itself (after base64 decoding or unzipping). Anything bigger could not
# become a YAML card anyway (cards are limited to 1 MB).
MAX_CARD_JSON_BYTES = 8_000_000


def read_bounded(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """The file's bytes; a one-line ``RoleplayError`` when it is missing, odd or too big."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise RoleplayError(f"{path}: file not found") from None
    except OSError as error:
        raise RoleplayError(f"{path}: cannot read file: {error.strerror or error}") from None
    if stat.S_ISDIR(info.st_mode):
        raise RoleplayError(f"{path}: is a directory; give a card file")
    if not stat.S_ISREG(info.st_mode):  # FIFOs and devices could block or never end
        raise RoleplayError(f"{path}: not a regular file")
    if info.st_size > limit:
        raise RoleplayError(
            f"{path}: file is too large ({megabytes(info.st_size)}; "
            f"the limit is {megabytes(limit)})"
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(limit + 1)
    except OSError as error:
        raise RoleplayError(f"{path}: cannot read file: {error.strerror or error}") from None
    if len(raw) > limit:
        raise RoleplayError(f"{path}: file is too large (the limit is {megabytes(limit)})")
    return raw


def parse_json_object(raw: bytes, where: str) -> dict[str, Any]:
    """Strict JSON: UTF-8 (a BOM is fine), an object at the top, no NaN or Infinity."""
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise RoleplayError(f"{where}: card JSON is too large ({megabytes(len(raw))})")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise RoleplayError(f"{where}: not UTF-8 text (byte {error.start})") from None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as error:
        raise RoleplayError(
            f"{where}: not valid JSON ({error.msg} at line {error.lineno}, column {error.colno})"
        ) from None
    except (ValueError, RecursionError) as error:
        raise RoleplayError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(value, dict):
        raise RoleplayError(f"{where}: the JSON must be an object with the card's fields")
    return value


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity, which JSON does not and YAML round-trips unequal.
    raise ValueError(f"{name} is not allowed in JSON")


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
