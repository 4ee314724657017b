"""The common shape every reader produces: a SillyTavern-style ``data`` object.

Character Card V2/V3 nest the card under ``data``; V1 cards, text-generation-webui YAML and
Pygmalion JSON are turned into the same shape by their readers, so one mapping
(``roleplay.interop.mapping``) turns any of them into our card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SourceFormat = Literal["ccv1", "ccv2", "ccv3", "textgen", "pygmalion"]


@dataclass
class TavernCard:
    """``data``: V2/V3 field names. ``legacy``: other top-level keys of a V2/V3 file."""

    data: dict[str, Any]
    source: SourceFormat
    legacy: dict[str, Any] = field(default_factory=dict)
    # Tolerated oddities, reported to the user after the import.
    notes: list[str] = field(default_factory=list)
