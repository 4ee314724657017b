"""The five dimensions, their prompt sets (data files) and the audit plan (persona x item).

Each dimension's prompt set is a YAML file in ``data/prompts`` with a ``message`` template
(``{text}`` is the item) and ``items`` (or, for regard, ``templates`` x ``groups``). A folder
given with ``--prompts`` may replace any of them with a file of the same name.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bias_audit.datafiles import data_path, read_yaml_file
from bias_audit.personas import Persona
from roleplay.errors import RoleplayError
from roleplay.paths import safe_slug

DIMENSIONS: tuple[str, ...] = (
    "offensiveness",
    "toxic_continuation",
    "regard",
    "stereotype_agreement",
    "toxic_agreement",
)
DIMENSION_TITLES = {
    "offensiveness": "Offensiveness",
    "toxic_continuation": "Toxic continuation",
    "regard": "Regard (negative about people)",
    "stereotype_agreement": "Stereotype agreement",
    "toxic_agreement": "Toxic agreement",
}
AGREEMENT_DIMENSIONS = frozenset({"stereotype_agreement", "toxic_agreement"})


@dataclass(frozen=True)
class ProbeItem:
    """One prompt of a dimension: ``text`` is the item, ``message`` what the persona is sent."""

    id: str
    dimension: str
    text: str
    message: str
    kind: str = ""  # offensiveness: neutral/provocative; regard: the group asked about
    group: str | None = None


@dataclass(frozen=True)
class Job:
    """One reply to generate: a persona answering an item."""

    persona: Persona
    item: ProbeItem

    @property
    def key(self) -> str:
        return f"{self.persona.id}|{self.item.dimension}|{self.item.id}"


def parse_dimensions(values: Sequence[str]) -> list[str]:
    """Dimension names from the command line (repeatable, comma-separated); default: all."""
    names = [part.strip() for value in values for part in value.split(",") if part.strip()]
    if not names:
        return list(DIMENSIONS)
    unknown = [name for name in names if name not in DIMENSIONS]
    if unknown:
        raise RoleplayError(
            f"unknown dimension {unknown[0]!r}; choose from {', '.join(DIMENSIONS)}"
        )
    return [name for name in DIMENSIONS if name in names]  # study order, no repeats


def _prompt_file(dimension: str, prompts_dir: Path | None) -> Path:
    if prompts_dir is not None:
        custom = prompts_dir / f"{dimension}.yaml"
        if custom.is_file():
            return custom
    return data_path("prompts", f"{dimension}.yaml")


def _message(template: str, text: str) -> str:
    # Plain replacement: item text is data, never a format string.
    return template.replace("{text}", text)


def load_prompt_set(dimension: str, prompts_dir: Path | None = None) -> list[ProbeItem]:
    path = _prompt_file(dimension, prompts_dir)
    data: Any = read_yaml_file(path)
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        raise RoleplayError(f"prompt set {path}: expected a mapping with a 'message' template")
    template = data["message"]
    if "{text}" not in template:
        raise RoleplayError(f"prompt set {path}: the 'message' template must contain {{text}}")
    items: list[ProbeItem] = []
    if "templates" in data or "groups" in data:
        templates, groups = data.get("templates") or [], data.get("groups") or []
        for number, question in enumerate(templates, start=1):
            for group in groups:
                text = str(question).replace("{group}", str(group))
                item_id = f"t{number}-{safe_slug(str(group), max_length=24)}"
                items.append(
                    ProbeItem(
                        item_id, dimension, text, _message(template, text), str(group), str(group)
                    )
                )
    for entry in data.get("items") or []:
        if not isinstance(entry, dict) or not str(entry.get("text", "")).strip():
            raise RoleplayError(f"prompt set {path}: every item needs a non-empty 'text'")
        text = str(entry["text"]).strip()
        item_id = str(entry.get("id") or f"i{len(items) + 1}")
        items.append(
            ProbeItem(
                item_id, dimension, text, _message(template, text), str(entry.get("kind", ""))
            )
        )
    if not items:
        raise RoleplayError(f"prompt set {path} is empty: it has no items for {dimension}")
    if len({item.id for item in items}) != len(items):
        raise RoleplayError(f"prompt set {path}: item ids must be unique")
    return items


def select_items(items: Sequence[ProbeItem], samples: int, seed: int) -> list[ProbeItem]:
    """``samples`` items, drawn with ``seed`` and balanced over ``kind`` (every persona gets
    the same items, so differences between personas are not differences between prompts)."""
    rng = random.Random(f"{seed}:{items[0].dimension}" if items else str(seed))
    by_kind: dict[str, list[ProbeItem]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    pools = [rng.sample(pool, len(pool)) for _, pool in sorted(by_kind.items())]
    rng.shuffle(pools)
    chosen: list[ProbeItem] = []
    while len(chosen) < min(samples, len(items)):
        for pool in pools:
            if pool and len(chosen) < samples:
                chosen.append(pool.pop())
    return chosen


def build_plan(
    personas: Sequence[Persona], items_by_dimension: dict[str, list[ProbeItem]]
) -> list[Job]:
    return [
        Job(persona, item)
        for persona in personas
        for items in items_by_dimension.values()
        for item in items
    ]
