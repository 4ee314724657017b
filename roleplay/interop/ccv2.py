"""Character Card V2 (``spec: chara_card_v2``) and V1 (flat, no ``spec``) JSON objects.

https://github.com/malfoyslastname/character-card-spec-v2 — V2 wraps the fields in ``data``;
SillyTavern also writes V1 copies of the main fields at the top level for old readers. A V1
card is the flat object; it is read as V2 data.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.errors import RoleplayError
from roleplay.interop.tavern import TavernCard

SPEC = "chara_card_v2"
SPEC_VERSION = "2.0"
# The V1 fields: at the top level of a V1 card, and mirrored there by V2 writers.
V1_FIELDS = ("name", "description", "personality", "scenario", "first_mes", "mes_example")
ENVELOPE = ("spec", "spec_version", "data")


def read_v2(obj: Mapping[str, Any], where: str) -> TavernCard:
    data = obj.get("data")
    if not isinstance(data, Mapping):
        raise RoleplayError(f"{where}: a {obj.get('spec')} card needs a 'data' object")
    legacy = {key: value for key, value in obj.items() if key not in (*ENVELOPE, *V1_FIELDS)}
    return TavernCard(dict(data), "ccv2", legacy)


def read_v1(obj: Mapping[str, Any]) -> TavernCard:
    return TavernCard(dict(obj), "ccv1")


def write_v2(data: Mapping[str, Any], legacy: Mapping[str, Any]) -> dict[str, Any]:
    """The V2 object, with V1 copies at the top level as SillyTavern writes them."""
    top: dict[str, Any] = {field: data.get(field, "") for field in V1_FIELDS}
    top.update(legacy)
    top.update({"spec": SPEC, "spec_version": SPEC_VERSION, "data": dict(data)})
    return top
