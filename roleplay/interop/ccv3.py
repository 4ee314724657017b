"""Character Card V3 (``spec: chara_card_v3``) JSON objects.

https://github.com/kwaroran/character-card-spec-v3 — the V2 fields plus ``nickname``,
``group_only_greetings``, ``assets``, ``source``, ``creation_date``/``modification_date`` and
multilingual creator notes. Those without a field in our card are kept (see mapping).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.errors import RoleplayError
from roleplay.interop.ccv2 import V1_FIELDS
from roleplay.interop.tavern import TavernCard

SPEC = "chara_card_v3"
SPEC_VERSION = "3.0"
ENVELOPE = ("spec", "spec_version", "data")
# Required by the spec; written empty when the card has none.
REQUIRED_DEFAULTS: dict[str, Any] = {"group_only_greetings": []}


def read_v3(obj: Mapping[str, Any], where: str) -> TavernCard:
    data = obj.get("data")
    if not isinstance(data, Mapping):
        raise RoleplayError(f"{where}: a chara_card_v3 card needs a 'data' object")
    # SillyTavern writes its V1 copies into V3 files too; they repeat `data` and are dropped.
    legacy = {key: value for key, value in obj.items() if key not in (*ENVELOPE, *V1_FIELDS)}
    return TavernCard(dict(data), "ccv3", legacy)


def write_v3(data: Mapping[str, Any], legacy: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(data)
    for key, default in REQUIRED_DEFAULTS.items():
        body.setdefault(key, default)
    top: dict[str, Any] = dict(legacy)
    top.update({"spec": SPEC, "spec_version": SPEC_VERSION, "data": body})
    return top
