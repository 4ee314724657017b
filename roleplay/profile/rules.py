"""The profile's data file (``data/statement_patterns.yaml``): slots and statement patterns.

The file says which statements are recognised (``patterns``), how each slot behaves
(single-valued or accumulating, keyed, its opposite), how a fact reads in the prompt
(``template``) and which words of a message make it relevant (``keywords``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from ruamel.yaml import YAML

from roleplay.errors import RoleplayError
from roleplay.resources import package_path

DATA_PATH = package_path("roleplay.profile", "data", "statement_patterns.yaml")

SlotKind = Literal["single", "multi"]
Polarity = Literal["stated", "negated"]
KEY_SEPARATOR = ":"
_MACRO = re.compile(r"\{([a-z_]+)\}")


class SlotSpec(BaseModel):
    """How one slot behaves; a keyed slot (``pet``) is stored as ``pet:cat``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: SlotKind
    template: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    keyed: bool = False
    opposite: str | None = None
    standing: int | None = None
    max_words: int = Field(default=6, ge=1)
    cut_words: tuple[str, ...] = ()

    @field_validator("template")
    @classmethod
    def _names_the_value(cls, template: str) -> str:
        if "{value}" not in template and "{a_value}" not in template:
            raise ValueError("a template must contain {value} or {a_value}")
        return template


class PatternSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    slot: str
    polarity: Polarity
    regex: str
    value: str | None = None
    capitalized: bool = False


class SkipSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    question_starters: tuple[str, ...]
    words: tuple[str, ...]
    phrases: tuple[str, ...]


class RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    macros: dict[str, str]
    lead_in: str
    clause_starters: tuple[str, ...]
    skip: SkipSpec
    trailing: tuple[str, ...]
    cut_words: tuple[str, ...]
    empty_words: tuple[str, ...]
    stop_words: tuple[str, ...]
    standing_max: int = Field(ge=0)
    slots: dict[str, SlotSpec]
    patterns: tuple[PatternSpec, ...]


class CompiledPattern:
    """One statement pattern, its macros expanded, compiled to match a whole clause."""

    def __init__(self, spec: PatternSpec, regex: re.Pattern[str]) -> None:
        self.spec = spec
        self.regex = regex


class ProfileRules:
    """The data file, validated and compiled once (``load_rules``)."""

    def __init__(self, data: RulesFile, source: Path) -> None:
        self.data = data
        self.source = source
        self.slots = data.slots
        self.patterns = [
            CompiledPattern(spec, _compile(self._expand(spec.regex), f"{spec.slot} pattern"))
            for spec in data.patterns
        ]
        unknown = {p.slot for p in data.patterns} - set(data.slots)
        unknown |= {s.opposite for s in data.slots.values() if s.opposite} - set(data.slots)
        if unknown:
            raise RoleplayError(f"{source}: unknown slots {sorted(unknown)}")
        self.lead_in = _compile(data.lead_in, "lead_in")
        self.trailing = _compile(
            r"(?:^|\s+)(?:" + "|".join(re.escape(w) for w in data.trailing) + r")[\s\W]*$",
            "trailing",
        )
        self.cut_words = _compile(_cut_regex(data.cut_words), "cut_words")
        self.slot_cut_words = {
            name: _compile(_cut_regex(spec.cut_words), f"{name} cut_words")
            for name, spec in data.slots.items()
            if spec.cut_words
        }
        self.skip_words = _compile(
            r"\b(?:"
            + "|".join(re.escape(w) for w in (*data.skip.words, *data.skip.phrases))
            + r")\b",
            "skip",
        )
        self.question_starters = frozenset(w.casefold() for w in data.skip.question_starters)
        self.clause_starters = frozenset(w.casefold() for w in data.clause_starters)
        self.empty_words = frozenset(w.casefold() for w in data.empty_words)
        self.stop_words = frozenset(w.casefold() for w in data.stop_words)
        self.standing_max = data.standing_max

    def _expand(self, regex: str) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.data.macros:
                raise RoleplayError(f"{self.source}: unknown macro {{{name}}} in {regex!r}")
            return self.data.macros[name]

        return _MACRO.sub(replace, regex)

    def slot(self, slot: str) -> SlotSpec:
        """The spec of a stored slot name (``diet``, ``pet:cat``); unknown -> RoleplayError."""
        base, separator, key = slot.partition(KEY_SEPARATOR)
        spec = self.slots.get(base)
        if spec is None:
            raise RoleplayError(f"unknown profile slot {slot!r} (known: {self.slot_names()})")
        if spec.keyed and not key.strip():
            raise RoleplayError(f"the slot {base!r} needs a key, e.g. {base}:cat")
        if separator and not spec.keyed:
            raise RoleplayError(f"the slot {base!r} takes no key")
        return spec

    def slot_names(self) -> str:
        return ", ".join(f"{name}:KEY" if spec.keyed else name for name, spec in self.slots.items())


def _cut_regex(words: tuple[str, ...]) -> str:
    # Words are regexes (the data file's "last \w+"); a cut needs the value's first word
    # before it, so "I like soul music" is not cut at "so".
    return r"\s+(?:" + "|".join(words) + r")\b.*$"


def _compile(regex: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(regex, re.IGNORECASE)
    except re.error as error:
        raise RoleplayError(f"{DATA_PATH}: bad regex in {what} ({error})") from error


def split_slot(slot: str) -> tuple[str, str | None]:
    """``"pet:cat"`` -> ``("pet", "cat")``; ``"diet"`` -> ``("diet", None)``."""
    base, separator, key = slot.partition(KEY_SEPARATOR)
    return base, key if separator else None


@cache
def load_rules(path: Path = DATA_PATH) -> ProfileRules:
    try:
        raw = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
        data = RulesFile.model_validate(raw)
    except OSError as error:
        raise RoleplayError(f"{path}: cannot read the profile rules ({error})") from error
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise RoleplayError(f"{path}: {where}: {first['msg']}") from error
    return ProfileRules(data, path)
