"""PNG text chunks: where SillyTavern keeps a card (base64 JSON under ``chara``/``ccv3``).

Parsed by hand instead of through Pillow: only the chunk list is needed, nothing is
decompressed, every length is checked against the data actually present and every chunk's
CRC-32 (over its type and data, as the PNG specification defines it) is verified.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator, Mapping

from roleplay.errors import RoleplayError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CARD_KEYWORDS = ("chara", "ccv3")
_TEXT_TYPES = (b"tEXt", b"iTXt", b"zTXt")
_MAX_CHUNKS = 100_000


def _chunk_name(kind: bytes) -> str:
    return repr(kind.decode("latin-1"))


def iter_chunks(data: bytes, where: str) -> Iterator[tuple[bytes, bytes]]:
    """``(type, body)`` for each chunk; raises ``RoleplayError`` for a truncated file or a
    chunk whose CRC does not match its type and data."""
    if not data.startswith(PNG_SIGNATURE):
        raise RoleplayError(f"{where}: not a PNG file")
    position = len(PNG_SIGNATURE)
    for _ in range(_MAX_CHUNKS):
        if position == len(data):
            return
        if position + 8 > len(data):
            raise RoleplayError(f"{where}: PNG is truncated (chunk header at byte {position})")
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        end = position + 8 + length + 4  # + CRC
        if end > len(data):
            raise RoleplayError(
                f"{where}: PNG is truncated ({_chunk_name(kind)} chunk at byte {position})"
            )
        body = data[position + 8 : position + 8 + length]
        (stored_crc,) = struct.unpack(">I", data[end - 4 : end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != stored_crc:
            raise RoleplayError(
                f"{where}: PNG is corrupt ({_chunk_name(kind)} chunk at byte {position} "
                "fails its CRC check)"
            )
        yield kind, body
        position = end
        if kind == b"IEND":
            return
    raise RoleplayError(f"{where}: PNG has too many chunks")


def read_text_chunks(data: bytes, where: str) -> dict[str, bytes]:
    """Card text chunks by lower-case keyword (``tEXt`` and uncompressed ``iTXt``)."""
    found: dict[str, bytes] = {}
    for kind, body in iter_chunks(data, where):
        if kind not in _TEXT_TYPES:
            continue
        keyword, _, text = body.partition(b"\x00")
        name = keyword.decode("latin-1").lower()
        if name not in CARD_KEYWORDS or name in found:
            continue  # the first chunk of a keyword wins, as in SillyTavern
        if kind == b"iTXt":
            # compression flag, method, language tag \0, translated keyword \0, text
            flag, rest = text[:1], text[2:]
            if flag != b"\x00":
                raise RoleplayError(f"{where}: compressed iTXt card chunks are not supported")
            text = rest.split(b"\x00", 2)[-1]
        elif kind == b"zTXt":
            raise RoleplayError(f"{where}: compressed zTXt card chunks are not supported")
        found[name] = text
    return found


def with_text_chunks(png: bytes, chunks: Mapping[str, bytes]) -> bytes:
    """``png`` with any card chunks removed and ``chunks`` added as ``tEXt`` before IEND."""
    out = [PNG_SIGNATURE]
    for kind, body in iter_chunks(png, "image"):
        if (
            kind in _TEXT_TYPES
            and body.partition(b"\x00")[0].decode("latin-1").lower() in CARD_KEYWORDS
        ):
            continue
        if kind == b"IEND":
            for keyword, text in chunks.items():
                out.append(_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text))
        out.append(_chunk(kind, body))
    return b"".join(out)


def _chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)
