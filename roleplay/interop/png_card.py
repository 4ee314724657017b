"""PNG cards: the card JSON, base64-encoded, in ``tEXt`` chunks (``chara``: V2, ``ccv3``: V3).

Reading prefers ``ccv3`` when both are present, as SillyTavern does. Writing always adds
both: V3-aware tools read ``ccv3``, older ones ``chara``.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from roleplay.errors import RoleplayError
from roleplay.interop.limits import MAX_CARD_JSON_BYTES, parse_json_object
from roleplay.interop.png_chunks import read_text_chunks, with_text_chunks


def read_png_card(data: bytes, where: str) -> dict[str, Any]:
    """The card JSON object stored in the PNG ``data``."""
    chunks = read_text_chunks(data, where)
    for keyword in ("ccv3", "chara"):
        if keyword in chunks:
            return _decode(chunks[keyword], f"{where}: '{keyword}' chunk")
    raise RoleplayError(
        f"{where}: this PNG holds no character card (no 'chara' or 'ccv3' text chunk)"
    )


def write_png_card(image_png: bytes, v2: dict[str, Any], v3: dict[str, Any]) -> bytes:
    return with_text_chunks(image_png, {"chara": _encode(v2), "ccv3": _encode(v3)})


def _decode(text: bytes, where: str) -> dict[str, Any]:
    # base64 grows data by 4/3: refuse before decoding anything too big to be a card.
    if len(text) > MAX_CARD_JSON_BYTES * 4 // 3 + 4:
        raise RoleplayError(f"{where}: card data is too large")
    try:
        raw = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise RoleplayError(f"{where}: not base64-encoded card data") from None
    return parse_json_object(raw, where)


def _encode(card: dict[str, Any]) -> bytes:
    text = json.dumps(card, ensure_ascii=False, allow_nan=False)
    return base64.b64encode(text.encode("utf-8"))
