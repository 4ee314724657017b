"""Attribute definitions: contrastive pairs read from YAML data files.

An attribute is a file ``<name>.yaml`` holding a name, the labels of its two poles and
contrastive pairs: the same question answered once from each pole. The bundled files live
in ``roleplay/control/data/attributes/``; a user adds an attribute by dropping a file into
``$ROLEPLAY_HOME/attributes/`` (a user file with a bundled name replaces the bundled one).
No code changes: the file is the attribute.

A file may also carry its fluency bound per direction, ``max_strength: {positive: 0.8,
negative: 0.7}`` (either key optional): the largest |strength| toward that pole that keeps
replies fluent, measured by ``benchmarks/steering_fluency.py``. Without it, or for a
direction it leaves out, the global ``max_strength`` of ``steering.yaml`` applies, and that
global bound caps every attribute's own.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from roleplay.errors import FileProblemsError, Problem
from roleplay.paths import roleplay_home

BIG_FIVE = ("openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism")
MIN_PAIRS = 4  # below this a mean difference is mostly noise; 12-20 pairs work well
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class ContrastPair:
    question: str
    positive: str
    negative: str


DIRECTIONS = ("positive", "negative")


@dataclass(frozen=True)
class FluencyBound:
    """An attribute's own bound on |strength| per direction (None: the global bound)."""

    positive: float | None = None
    negative: float | None = None

    def for_strength(self, value: float) -> float | None:
        """The bound for a strength of this sign (None for 0 or an unbounded direction)."""
        if value > 0:
            return self.positive
        return self.negative if value < 0 else None


@dataclass(frozen=True)
class AttributeSpec:
    """One steerable attribute: positive strengths push toward ``positive``."""

    name: str
    description: str
    positive: str
    negative: str
    pairs: tuple[ContrastPair, ...]
    source: Path
    # Not part of data_hash: the bound limits how hard a vector is applied, not the vector.
    max_strength: FluencyBound = FluencyBound()

    @property
    def data_hash(self) -> str:
        """Hash of everything that shapes the vector, so edited pairs invalidate the cache."""
        payload = json.dumps(
            [self.name, [[p.question, p.positive, p.negative] for p in self.pairs]],
            ensure_ascii=False,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def bundled_attributes_dir() -> Path:
    return Path(str(resources.files("roleplay.control") / "data" / "attributes"))


def user_attributes_dir() -> Path:
    return roleplay_home() / "attributes"


def _location(node: Any, key: str | int | None) -> tuple[int, int]:
    """1-based (line, column) of ``node[key]`` (or of ``node``) in a round-trip YAML tree."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return 1, 1
    try:
        if isinstance(key, str):
            line, column = lc.value(key)
        elif isinstance(key, int):
            line, column = lc.item(key)
        else:
            line, column = lc.line, lc.col
    except (KeyError, IndexError, TypeError):
        line, column = lc.line, lc.col
    return line + 1, column + 1


def _text_field(
    node: Any, key: str, path: str, problems: list[Problem], *, required: bool = True
) -> str:
    value = node.get(key) if isinstance(node, Mapping) else None
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None and not required:
        return ""
    line, column = _location(node, key if isinstance(node, Mapping) and key in node else None)
    message = f"'{key}' is missing" if value is None else f"'{key}' must be a non-empty text"
    problems.append(Problem(path, line, column, message))
    return ""


def _fluency_bound(data: Mapping[str, Any], path: str, problems: list[Problem]) -> FluencyBound:
    """The optional ``max_strength: {positive: x, negative: y}`` (positive finite numbers)."""
    if "max_strength" not in data:
        return FluencyBound()
    node = data["max_strength"]
    if not isinstance(node, Mapping):
        line, column = _location(data, "max_strength")
        problems.append(
            Problem(
                path,
                line,
                column,
                "'max_strength' must be a mapping of directions to bounds, "
                f"e.g. {{positive: 1.0, negative: 0.8}}; got {node!r}",
            )
        )
        return FluencyBound()
    bounds: dict[str, float] = {}
    for key, value in node.items():
        line, column = _location(node, key if isinstance(key, str) else None)
        if key not in DIRECTIONS:
            problems.append(
                Problem(
                    path,
                    line,
                    column,
                    f"'max_strength.{key}' is not a direction (use positive or negative)",
                )
            )
        elif (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value <= 0
        ):
            problems.append(
                Problem(
                    path,
                    line,
                    column,
                    f"'max_strength.{key}' must be a positive number, got {value!r}",
                )
            )
        else:
            bounds[key] = float(value)
    return FluencyBound(**bounds)


def fluency_bounds(specs: Mapping[str, AttributeSpec]) -> dict[str, FluencyBound]:
    """Each attribute's own bound per direction, by name (for ``resolve_strengths``)."""
    return {name: spec.max_strength for name, spec in specs.items()}


def parse_attribute(text: str, source: Path) -> AttributeSpec:
    """Parse and validate one attribute file; every problem is reported with its location."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    path = str(source)
    try:
        data = YAML(typ="rt").load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FileProblemsError(
            [Problem(path, line, column, f"invalid YAML: {error.problem or error}")]
        ) from error
    except YAMLError as error:
        raise FileProblemsError([Problem(path, 1, 1, f"invalid YAML: {error}")]) from error
    if not isinstance(data, Mapping):
        raise FileProblemsError([Problem(path, 1, 1, "expected a mapping with name and pairs")])

    problems: list[Problem] = []
    name = _text_field(data, "name", path, problems)
    if name and not _NAME.match(name):
        line, column = _location(data, "name")
        problems.append(
            Problem(path, line, column, f"name {name!r} must be lowercase letters, digits, _")
        )
    description = _text_field(data, "description", path, problems, required=False)
    positive = _text_field(data, "positive", path, problems)
    negative = _text_field(data, "negative", path, problems)
    raw_pairs = data.get("pairs")
    pairs: list[ContrastPair] = []
    if not isinstance(raw_pairs, list):
        line, column = _location(data, "pairs" if "pairs" in data else None)
        problems.append(Problem(path, line, column, "'pairs' must be a list of pairs"))
        raw_pairs = []
    for index, item in enumerate(raw_pairs):
        if not isinstance(item, Mapping):
            line, column = _location(raw_pairs, index)
            problems.append(
                Problem(path, line, column, "a pair needs question, positive and negative")
            )
            continue
        fields = [
            _text_field(item, key, path, problems) for key in ("question", "positive", "negative")
        ]
        if all(fields):
            if fields[1] == fields[2]:
                line, column = _location(item, "negative")
                problems.append(Problem(path, line, column, "both answers are identical"))
            pairs.append(ContrastPair(*fields))
    if isinstance(data.get("pairs"), list) and len(data["pairs"]) < MIN_PAIRS:
        line, column = _location(data, "pairs")
        problems.append(
            Problem(path, line, column, f"needs at least {MIN_PAIRS} pairs (12-20 work well)")
        )
    bound = _fluency_bound(data, path, problems)
    if problems:
        raise FileProblemsError(problems)
    return AttributeSpec(name, description, positive, negative, tuple(pairs), source, bound)


def load_attribute_file(path: Path) -> AttributeSpec:
    spec = parse_attribute(path.read_text(encoding="utf-8"), path)
    if spec.name != path.stem:
        raise FileProblemsError(
            [Problem(str(path), 1, 1, f"name {spec.name!r} must match the file name {path.stem!r}")]
        )
    return spec


def load_attributes(folders: Iterable[Path] | None = None) -> dict[str, AttributeSpec]:
    """All attributes, by name. Later folders override earlier ones (user over bundled)."""
    chosen = (
        list(folders) if folders is not None else [bundled_attributes_dir(), user_attributes_dir()]
    )
    return dict(_load_cached(tuple(chosen), _fingerprint(chosen)))


def _fingerprint(folders: list[Path]) -> tuple[tuple[str, int, int], ...]:
    files = [f for folder in folders if folder.is_dir() for f in sorted(folder.glob("*.yaml"))]
    return tuple((str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files)


@cache
def _load_cached(
    folders: tuple[Path, ...], _fingerprint: tuple[tuple[str, int, int], ...]
) -> tuple[tuple[str, AttributeSpec], ...]:
    # Cached on the files' sizes and mtimes: reading 7 files is cheap, but the controller and
    # the CLI ask often, and an edited or added file must still be seen.
    found: dict[str, AttributeSpec] = {}
    for folder in folders:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                spec = load_attribute_file(path)
                found[spec.name] = spec
    return tuple(sorted(found.items()))
