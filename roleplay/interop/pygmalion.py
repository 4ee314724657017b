"""Pygmalion-style JSON (also used by old TavernAI exports and text-generation-webui).

``char_name``, ``char_persona``, ``world_scenario``, ``char_greeting`` and
``example_dialogue``, where the dialogue uses ``You:`` and the character's name (or
``{{user}}:``/``{{char}}:``) as line prefixes. The persona is the character's whole
description in this format, so it becomes ``description``. Other keys are kept as they are
(unmapped keys are given back on export).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from roleplay.interop.tavern import TavernCard

PYGMALION_KEYS = (
    "char_name",
    "char_persona",
    "world_scenario",
    "char_greeting",
    "example_dialogue",
)
ALIASES = {
    "char_name": "name",
    "char_persona": "description",
    "world_scenario": "scenario",
    "char_greeting": "first_mes",
    "example_dialogue": "mes_example",
}


def read_pygmalion(obj: Mapping[str, Any]) -> TavernCard:
    return TavernCard(renamed(obj, ALIASES), "pygmalion")


def renamed(obj: Mapping[str, Any], aliases: Mapping[str, str]) -> dict[str, Any]:
    """``obj`` with alias keys renamed (an alias never overrides the key it stands for)."""
    data = {key: value for key, value in obj.items() if key not in aliases}
    for alias, key in aliases.items():
        if alias in obj and obj[alias] is not None:
            data.setdefault(key, obj[alias])
    example, name = data.get("mes_example"), data.get("name")
    if isinstance(example, str) and isinstance(name, str) and name.strip():
        data["mes_example"] = standard_prefixes(example, name)
    return data


def standard_prefixes(text: str, name: str) -> str:
    """``You:``/``Name:`` line prefixes as ``{{user}}:``/``{{char}}:``; one ``<START>`` block
    when the text has none."""
    prefixes = re.compile(rf"^([ \t]*)(You|{re.escape(name)})[ \t]*:", re.MULTILINE | re.IGNORECASE)

    def replace(match: re.Match[str]) -> str:
        who = "{{user}}" if match.group(2).lower() == "you" else "{{char}}"
        return f"{match.group(1)}{who}:"

    converted = prefixes.sub(replace, text)
    if converted.strip() and "<start>" not in converted.lower():
        converted = "<START>\n" + converted
    return converted
