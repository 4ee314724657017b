"""Our namespace inside other tools' ``extensions``: ``extensions.roleplay``.

Character Card V2/V3 let every tool keep its own data under ``extensions``; ours is the
``roleplay`` key. In an exported card it carries what the format has no field for (Big Five,
speaking style, memories, ...). In our YAML card it holds import bookkeeping:

- ``traits_source``: ``unset`` (neutral placeholders) or ``estimated`` (``--infer-traits``)
  until the author sets the scores and removes the marker;
- ``unmapped``: keys of the source that have no field here, given back on export;
- ``legacy``: top-level keys of a V2 file outside ``data`` (SillyTavern's V1 copies);
- ``source_text``: the original text of a field whose conversion was lossy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.errors import RoleplayError

NAMESPACE = "roleplay"
TRAITS_SOURCE = "traits_source"
UNMAPPED = "unmapped"
LEGACY = "legacy"
SOURCE_TEXT = "source_text"
# Import bookkeeping: restored to its place on export, never exported as such.
RESTORED_KEYS = (UNMAPPED, LEGACY, SOURCE_TEXT)


def split_namespace(extensions: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(other tools' extensions, our block)`` from a format's ``extensions`` value."""
    if extensions is None:
        return {}, {}
    if not isinstance(extensions, Mapping):
        raise RoleplayError(
            f"{where}: extensions must be an object, got {type(extensions).__name__}"
        )
    others = dict(extensions)
    ours = others.pop(NAMESPACE, None)
    if ours is None:
        return others, {}
    if not isinstance(ours, Mapping):
        raise RoleplayError(
            f"{where}: extensions.{NAMESPACE} belongs to another tool (not an object)"
        )
    return others, dict(ours)


def join_namespace(others: Mapping[str, Any], ours: Mapping[str, Any]) -> dict[str, Any]:
    """``extensions`` with our block added (left out when empty)."""
    joined = dict(others)
    if ours:
        joined[NAMESPACE] = dict(ours)
    return joined
