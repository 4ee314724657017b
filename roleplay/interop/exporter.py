"""``roleplay card export``: our card as a SillyTavern card (V2/V3, JSON or PNG)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from roleplay.cards.model import Card
from roleplay.errors import RoleplayError
from roleplay.interop.ccv2 import write_v2
from roleplay.interop.ccv3 import write_v3
from roleplay.interop.images import image_png, placeholder_png
from roleplay.interop.mapping import tavern_from_card
from roleplay.interop.png_card import write_png_card
from roleplay.paths import safe_slug

EXPORT_FORMATS = ("ccv2-json", "ccv3-json", "ccv2-png", "ccv3-png")


def export_card(card: Card, export_format: str, *, image: Path | None = None) -> bytes:
    """The exported file's bytes. PNG formats carry both ``chara`` (V2) and ``ccv3`` (V3)."""
    if export_format not in EXPORT_FORMATS:
        raise RoleplayError(
            f"unknown format {export_format!r}; choose one of {', '.join(EXPORT_FORMATS)}"
        )
    if export_format.endswith("-json"):
        if image is not None:
            raise RoleplayError("--image only applies to the PNG formats")
        envelope = v3_envelope(card) if export_format == "ccv3-json" else v2_envelope(card)
        return _json_bytes(envelope)
    picture = image_png(image) if image is not None else placeholder_png(card.name)
    return write_png_card(picture, v2_envelope(card), v3_envelope(card))


def v2_envelope(card: Card) -> dict[str, Any]:
    return write_v2(*tavern_from_card(card, v3=False))


def v3_envelope(card: Card) -> dict[str, Any]:
    return write_v3(*tavern_from_card(card, v3=True))


def default_export_name(card: Card, export_format: str) -> str:
    return f"{safe_slug(card.name)}.{export_format.rsplit('-', 1)[1]}"


def _json_bytes(value: dict[str, Any]) -> bytes:
    return (json.dumps(value, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode()
