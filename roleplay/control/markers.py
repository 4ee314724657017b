"""Lexical marker scores for evaluating steered replies (an independent check).

The benchmark must not judge a vector with the vector's own data, so each attribute is also
scored with a list of marker words kept in ``data/eval/markers.yaml`` (documented there).
Scores are crude but transparent: ``100 * (positive hits - negative hits) / words``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from roleplay.errors import FileProblemsError, Problem
from roleplay.resources import package_path

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_CONTRACTION = re.compile(r"[a-z]('[a-z]+)\b")


@dataclass(frozen=True)
class MarkerSet:
    name: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]


def markers_path() -> Path:
    return package_path("roleplay.control", "data", "eval", "markers.yaml")


@cache
def load_marker_sets(path: Path | None = None) -> dict[str, MarkerSet]:
    from ruamel.yaml import YAML

    source = path or markers_path()
    data = YAML(typ="safe").load(source.read_text(encoding="utf-8")) or {}
    sets = {}
    for name, entry in data.items():
        poles: list[tuple[str, ...]] = []
        for pole in ("positive", "negative"):
            items = entry.get(pole) if isinstance(entry, dict) else None
            if not isinstance(items, list) or not items:
                problem = f"{name}: '{pole}' must be a non-empty list of markers"
                raise FileProblemsError([Problem(str(source), 1, 1, problem)])
            poles.append(tuple(dict.fromkeys(str(item).lower() for item in items)))
        positive, negative = poles
        sets[str(name)] = MarkerSet(str(name), positive, negative)
    return sets


def _hits(text: str, words: list[str], contractions: list[str], marker: str) -> int:
    if marker.startswith("'") or marker == "n't":
        return sum(1 for c in contractions if c == marker or (marker == "n't" and c == "'t"))
    if not marker[0].isalpha():  # punctuation such as "!"
        return text.count(marker)
    if " " in marker:
        return len(re.findall(rf"\b{re.escape(marker)}\b", text))
    return words.count(marker)


def marker_score(text: str, markers: MarkerSet) -> float:
    """``100 * (positive - negative hits) / words``; 0 for an empty text."""
    lowered = text.lower().replace("’", "'")
    words = _WORD.findall(lowered)
    if not words:
        return 0.0
    contractions = [match.group(1) for match in _CONTRACTION.finditer(lowered)]
    positive = sum(_hits(lowered, words, contractions, m) for m in markers.positive)
    negative = sum(_hits(lowered, words, contractions, m) for m in markers.negative)
    return 100.0 * (positive - negative) / len(words)
