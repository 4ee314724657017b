"""``roleplay card import``: recognise a file's format, map it, write our YAML card.

The format is recognised from the content, not the file name: PNG signature, zip signature
(CHARX), a JSON object (V3, V2, Pygmalion or V1 by its keys), else YAML (text-generation-
webui). Every problem is a one-line ``RoleplayError``; the card file is written atomically
and only after the loader has accepted it, so a failed import leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from roleplay.cards.diagnostics import describe_error, to_plain
from roleplay.cards.model import Card
from roleplay.cards.yaml_reader import read_card_yaml
from roleplay.cards.yaml_writer import card_to_yaml
from roleplay.errors import RoleplayError
from roleplay.interop import bookkeeping as bk
from roleplay.interop.ccv2 import read_v1, read_v2
from roleplay.interop.ccv3 import read_v3
from roleplay.interop.charx import read_charx
from roleplay.interop.files import write_card_atomic
from roleplay.interop.limits import parse_json_object, read_bounded
from roleplay.interop.mapping import Mapped, TraitsSource, card_from_tavern
from roleplay.interop.png_card import read_png_card
from roleplay.interop.png_chunks import PNG_SIGNATURE
from roleplay.interop.pygmalion import PYGMALION_KEYS, read_pygmalion
from roleplay.interop.tavern import TavernCard
from roleplay.interop.textgen import TEXTGEN_KEYS, read_textgen
from roleplay.paths import safe_slug

ZIP_SIGNATURE = b"PK\x03\x04"
FORMAT_NAMES = {
    "ccv1": "Character Card V1",
    "ccv2": "Character Card V2",
    "ccv3": "Character Card V3",
    "textgen": "text-generation-webui YAML",
    "pygmalion": "Pygmalion JSON",
}
_MAX_SHOWN_ERRORS = 5


@dataclass
class ImportResult:
    path: Path
    card: Card
    source_format: str
    traits_source: TraitsSource
    notes: list[str] = field(default_factory=list)


def read_foreign_card(path: Path) -> TavernCard:
    """Any supported file as SillyTavern-style data."""
    where = str(path)
    raw = read_bounded(path)
    container = ""
    if raw.startswith(PNG_SIGNATURE):
        obj, container = read_png_card(raw, where), " in a PNG"
    elif raw.startswith(ZIP_SIGNATURE):
        obj, container = read_charx(raw, where), " in a CHARX zip"
    elif raw.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        obj = parse_json_object(raw, where)
    else:
        return _from_yaml(path)
    tavern = _from_json_object(obj, where)
    if container:
        tavern.notes.insert(0, f"read {FORMAT_NAMES[tavern.source]}{container}")
    return tavern


def import_card(
    path: Path, out_dir: Path, *, force: bool = False, infer_traits: bool = False
) -> ImportResult:
    tavern = read_foreign_card(path)
    mapped = card_from_tavern(tavern, str(path), infer_traits=infer_traits)
    card = _validated(mapped, str(path))
    target = out_dir / f"{safe_slug(card.name)}.yaml"
    text = card_to_yaml(card, header=_header(path, tavern), notes=_notes(mapped))
    write_card_atomic(target, text, force=force)
    return ImportResult(target, card, tavern.source, mapped.traits_source, mapped.notes)


def _from_json_object(obj: Mapping[str, Any], where: str) -> TavernCard:
    spec = obj.get("spec")
    if spec == "chara_card_v3":
        return read_v3(obj, where)
    if spec == "chara_card_v2":
        return read_v2(obj, where)
    if spec is not None:
        raise RoleplayError(f"{where}: unsupported card spec {str(spec)[:40]!r}")
    if any(key in obj for key in PYGMALION_KEYS):
        return read_pygmalion(obj)
    if "name" in obj and any(key in obj for key in ("description", "first_mes", "personality")):
        return read_v1(obj)
    raise RoleplayError(
        f"{where}: JSON is not a character card this tool knows "
        "(Character Card V1/V2/V3 or Pygmalion)"
    )


def _from_yaml(path: Path) -> TavernCard:
    document = read_card_yaml(path)
    if document.tree is None or document.problems:
        first = document.problems[0]
        raise RoleplayError(f"{path}: not a card file this tool can import ({first.message})")
    obj = to_plain(document.tree)
    if not isinstance(obj, dict):
        raise RoleplayError(f"{path}: not a card file this tool can import")
    if isinstance(obj.get("personality"), dict) and "big_five" in obj["personality"]:
        raise RoleplayError(
            f"{path}: this is already a roleplay card; check it with `roleplay card validate` "
            "and copy it into the characters folder"
        )
    if any(key in obj for key in (*TEXTGEN_KEYS, *PYGMALION_KEYS)):
        return read_textgen(obj)
    raise RoleplayError(
        f"{path}: not a card file this tool can import (expected a PNG, CHARX, JSON card or "
        "text-generation-webui YAML)"
    )


def _validated(mapped: Mapped, where: str) -> Card:
    try:
        return Card.model_validate(mapped.card)
    except ValidationError as error:
        details = error.errors()
        shown = "; ".join(describe_error(detail) for detail in details[:_MAX_SHOWN_ERRORS])
        more = len(details) - _MAX_SHOWN_ERRORS
        extra = f" (and {more} more)" if more > 0 else ""
        raise RoleplayError(f"{where}: the card cannot be converted: {shown}{extra}") from None


def _header(path: Path, tavern: TavernCard) -> list[str]:
    return [
        f"Imported from {path.name} ({FORMAT_NAMES[tavern.source]}) by `roleplay card import`.",
        "Fields: docs/authoring.md. JSON Schema for editors: `roleplay card schema`.",
    ]


def _notes(mapped: Mapped) -> dict[tuple[str, ...], str]:
    marker = f"extensions.{bk.NAMESPACE}.{bk.TRAITS_SOURCE}"
    if mapped.traits_source == "unset":
        note = (
            "TODO: the source format has no Big Five scores; these are neutral placeholders.\n"
            f"Set them (0 low .. 1 high), then delete {marker}."
        )
    elif mapped.traits_source == "estimated" and mapped.estimate is not None:
        evidence = "; ".join(
            f"{trait}: {' '.join(words[:8])}" for trait, words in mapped.estimate.evidence.items()
        )
        note = (
            "ESTIMATED from the card's words (--infer-traits, trait lexicon); review them,\n"
            f"then delete {marker}. Evidence: {evidence or 'none found'}"
        )
    else:
        return {}
    return {("personality", "big_five"): note}
