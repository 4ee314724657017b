"""CHARX (Character Card V3 zip): ``card.json`` at the root, plus assets.

A zip is a classic way to smuggle a bomb (a few KB that inflate to GB), so the whole
directory is checked before a single byte is inflated: member count, each member's declared
size, the total, and the compression ratio. ``card.json`` is then read with a bounded read
(declared sizes can lie). The assets are not copied: the platform does not use avatars, and
the card's ``assets`` list is kept for export.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from roleplay.errors import RoleplayError
from roleplay.interop.limits import MAX_CARD_JSON_BYTES, megabytes, parse_json_object

MAX_MEMBERS = 1_000
MAX_TOTAL_UNCOMPRESSED = 256_000_000
# Text and images compress far less than this; bombs compress ~1000:1.
MAX_RATIO = 100
_RATIO_FLOOR = 1_000_000  # small members may compress well without being a bomb
CARD_MEMBER = "card.json"


def read_charx(data: bytes, where: str) -> dict[str, Any]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise RoleplayError(f"{where}: not a readable zip file ({error})") from None
    with archive:
        members = archive.infolist()
        _check_members(members, where)
        card = next((member for member in members if member.filename == CARD_MEMBER), None)
        if card is None:
            raise RoleplayError(f"{where}: this zip has no {CARD_MEMBER} (not a CHARX card)")
        if card.file_size > MAX_CARD_JSON_BYTES:
            raise RoleplayError(
                f"{where}: {CARD_MEMBER} is too large ({megabytes(card.file_size)})"
            )
        try:
            with archive.open(card) as stream:
                raw = stream.read(MAX_CARD_JSON_BYTES + 1)
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            NotImplementedError,
            RuntimeError,
        ) as error:
            raise RoleplayError(f"{where}: cannot read {CARD_MEMBER} ({error})") from None
    if len(raw) > MAX_CARD_JSON_BYTES:
        raise RoleplayError(f"{where}: {CARD_MEMBER} is too large")
    return parse_json_object(raw, f"{where}: {CARD_MEMBER}")


def _check_members(members: list[zipfile.ZipInfo], where: str) -> None:
    if len(members) > MAX_MEMBERS:
        raise RoleplayError(
            f"{where}: zip has too many files ({len(members)}; at most {MAX_MEMBERS})"
        )
    total = 0
    for member in members:
        total += member.file_size
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise RoleplayError(
                f"{where}: zip would unpack to more than "
                f"{megabytes(MAX_TOTAL_UNCOMPRESSED)}; refused"
            )
        ratio = member.file_size // max(member.compress_size, 1)
        if member.file_size > _RATIO_FLOOR and ratio > MAX_RATIO:
            raise RoleplayError(
                f"{where}: {member.filename[:60]!r} would unpack {ratio}x its packed size "
                "(a zip bomb?); refused"
            )
