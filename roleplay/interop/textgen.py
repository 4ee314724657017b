"""text-generation-webui character YAML: ``name``, ``context``, ``greeting``.

``context`` is the whole character prompt in that tool; it becomes the description. Its
loader also accepts the Pygmalion keys (``char_name``, ``char_persona``, ``char_greeting``,
``world_scenario``, ``example_dialogue``) as aliases, and so do we; the tool's own keys win.
The YAML is parsed by the same defensive reader as our cards (size, depth, no anchors).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roleplay.interop.pygmalion import ALIASES, renamed
from roleplay.interop.tavern import TavernCard

TEXTGEN_KEYS = ("context", "greeting")
_OWN = {"context": "description", "greeting": "first_mes"}


def read_textgen(obj: Mapping[str, Any]) -> TavernCard:
    own = {key: value for key, value in obj.items() if key not in _OWN}
    for theirs, ours in _OWN.items():
        if obj.get(theirs) is not None:
            own[ours] = obj[theirs]
    return TavernCard(renamed(own, ALIASES), "textgen")
