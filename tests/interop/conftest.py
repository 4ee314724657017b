"""Helpers for interop tests: SillyTavern-shaped cards as JSON, PNG and CHARX files."""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path
from typing import Any

from roleplay.interop.images import placeholder_png
from roleplay.interop.png_chunks import PNG_SIGNATURE, with_text_chunks

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cards"
# SillyTavern's three default characters (Character Card V2 in PNG `chara` chunks).
DEFAULT_CARDS = sorted(FIXTURES.glob("default_*.png"))


def v2_card(**data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Kira", "description": "A courier pilot.", **data}
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": body}


def v3_card(**data: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"name": "Kira", "description": "A courier pilot.", **data}
    return {"spec": "chara_card_v3", "spec_version": "3.0", "data": body}


def b64_json(obj: Any) -> bytes:
    return base64.b64encode(json.dumps(obj).encode("utf-8"))


def png_with(chunks: dict[str, bytes]) -> bytes:
    return with_text_chunks(placeholder_png("test"), chunks)


def flip_crc(png: bytes, kind: bytes) -> bytes:
    """``png`` with one bit of the first ``kind`` chunk's CRC flipped (the data untouched)."""
    position = len(PNG_SIGNATURE)
    while position < len(png):
        length, found = struct.unpack(">I4s", png[position : position + 8])
        crc_at = position + 8 + length
        if found == kind:
            return png[:crc_at] + bytes([png[crc_at] ^ 0x01]) + png[crc_at + 1 :]
        position = crc_at + 4
    raise ValueError(f"no {kind!r} chunk")


def charx_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def write(path: Path, content: bytes | str | dict[str, Any]) -> Path:
    if isinstance(content, dict):
        content = json.dumps(content)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path
