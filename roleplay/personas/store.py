"""User personas under ``<home>/personas/``.

One YAML file per persona, named by ``persona_slug(name)`` (``safe_slug`` of the name folded
to lower case: ASCII letters, digits and ``-`` plus a hash, so a name such as ``../../etc``
never becomes a path and two names that differ only in case share one file), and the active
persona's slug in ``active``:

    <home>/personas/<slug>.yaml   name, description, big_five, mbti, created_at, updated_at
    <home>/personas/active        the active persona's slug (absent: none is active)

Every write is whole-or-nothing (``replace_atomically``). Names are unique ignoring case.
A file that is not a persona is reported in one line naming it and never rewritten or
removed by another operation.
"""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from roleplay.atomic_files import replace_atomically
from roleplay.cards.model import BigFive
from roleplay.errors import RoleplayError
from roleplay.paths import roleplay_home, safe_slug
from roleplay.personas.model import Persona, now

SUFFIX = ".yaml"
ACTIVE_FILE = "active"
MAX_FILE_BYTES = 256 * 1024
EDITABLE_FIELDS = frozenset({"name", "description", "big_five", "mbti"})
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_HEADER = "A roleplay persona: who {{user}} is. `roleplay persona edit NAME` changes it."
_FIELD_ORDER = ("name", "description", "big_five", "mbti", "created_at", "updated_at")


def personas_dir() -> Path:
    return roleplay_home() / "personas"


def _fold(name: str) -> str:
    return unicodedata.normalize("NFKC", name).strip().casefold()


def persona_slug(name: str) -> str:
    """The file stem of the persona called ``name`` (the same for any case of it)."""
    return safe_slug(_fold(name))


@dataclass(frozen=True)
class _Stored:
    persona: Persona
    path: Path

    @property
    def slug(self) -> str:
        return self.path.stem


# Reading --------------------------------------------------------------------------------


def read_persona_file(path: Path) -> Persona:
    """The persona in ``path``; a one-line ``RoleplayError`` naming the file otherwise."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        raise RoleplayError(f"{path}: cannot read it ({error.strerror or error})") from None
    if len(data) > MAX_FILE_BYTES:
        raise RoleplayError(f"{path}: too large for a persona file; fix or remove it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RoleplayError(
            f"{path}: not a persona file (not UTF-8 text); fix or remove it"
        ) from None
    try:
        document: Any = YAML(typ="safe", pure=True).load(text)
    except YAMLError as error:
        raise RoleplayError(
            f"{path}: not a persona file ({_yaml_problem(error)}); fix or remove it"
        ) from None
    if not isinstance(document, dict):
        raise RoleplayError(
            f"{path}: not a persona file (expected name: ..., description: ...); fix or remove it"
        )
    try:
        return Persona.model_validate(document)
    except ValidationError as error:
        raise RoleplayError(f"{path}: {_first_problem(error)}; fix or remove it") from None


def _scan(*, strict: bool) -> list[_Stored]:
    folder = personas_dir()
    try:
        files = [
            path
            for path in folder.iterdir()
            if path.suffix == SUFFIX and not path.name.startswith(".") and path.is_file()
        ]
    except OSError:  # no folder yet: no personas
        return []
    found = []
    for path in files:
        try:
            found.append(_Stored(read_persona_file(path), path))
        except RoleplayError:
            if strict:
                raise
    return sorted(found, key=lambda stored: (_fold(stored.persona.name), stored.persona.name))


def list_personas() -> list[Persona]:
    """Every persona, sorted by name; a broken file is an error naming it."""
    return [stored.persona for stored in _scan(strict=True)]


def _find(name: str) -> _Stored | None:
    wanted = _fold(name)
    if not wanted:
        return None
    path = personas_dir() / f"{persona_slug(name)}{SUFFIX}"
    if path.is_file():  # the usual case: the file the name maps to
        persona = read_persona_file(path)
        if _fold(persona.name) == wanted:
            return _Stored(persona, path)
    # A file renamed or written by hand: look at all of them (broken ones are skipped here;
    # `list` names them).
    return next((s for s in _scan(strict=False) if _fold(s.persona.name) == wanted), None)


def _get(name: str) -> _Stored:
    stored = _find(name)
    if stored is None:
        known = ", ".join(repr(s.persona.name) for s in _scan(strict=False)[:10])
        raise RoleplayError(
            f"unknown persona {_shown(name)!r} (known: {known or 'none yet'}; "
            "`roleplay persona add --name NAME` adds one)"
        )
    return stored


def find_persona(name: str) -> Persona | None:
    """The persona called ``name`` (ignoring case), or None."""
    stored = _find(name)
    return stored.persona if stored is not None else None


def get_persona(name: str) -> Persona:
    """The persona called ``name`` (ignoring case); unknown is a one-line error listing the
    known ones."""
    return _get(name).persona


# The active persona -----------------------------------------------------------------------


def _active_path() -> Path:
    return personas_dir() / ACTIVE_FILE


def _active_slug() -> str | None:
    try:
        slug = _active_path().read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return slug if _SLUG.match(slug) else None


def active_persona() -> Persona | None:
    """The persona `roleplay persona use` chose, or None (none chosen, or it was removed
    by hand)."""
    slug = _active_slug()
    if slug is None:
        return None
    path = personas_dir() / f"{slug}{SUFFIX}"
    if not path.is_file():
        return None
    return read_persona_file(path)


def use_persona(name: str) -> Persona:
    """Make ``name`` the active persona (the one chats use by default)."""
    stored = _get(name)
    _write_active(stored.slug)
    return stored.persona


def clear_active_persona() -> None:
    """No persona is active afterwards (chats use the default user name)."""
    try:
        _active_path().unlink(missing_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot clear the active persona: {error.strerror or error}") from None


def resolve_persona(name: str | None) -> Persona | None:
    """The persona a chat uses: ``name`` when given (unknown is an error), else the active
    one, else None."""
    if name is not None and name.strip():
        return get_persona(name)
    return active_persona()


def _write_active(slug: str) -> None:
    _make_folder()
    replace_atomically(_active_path(), f"{slug}\n".encode())


# Writing ------------------------------------------------------------------------------------


def add_persona(
    name: str,
    description: str = "",
    *,
    big_five: BigFive | Mapping[str, float] | None = None,
    mbti: str | None = None,
    use: bool = False,
) -> Persona:
    """Store a new persona (and make it active with ``use``); a name taken (ignoring case)
    is refused."""
    persona = _validated(
        {"name": name, "description": description, "big_five": big_five, "mbti": mbti}
    )
    path = _path_for(persona.name)
    if path.exists():
        existing = read_persona_file(path)  # a broken file there is reported, not replaced
        raise RoleplayError(
            f"a persona named {existing.name!r} exists; "
            f"`roleplay persona edit {_quoted(existing.name)}` changes it"
        )
    existing_stored = _find(persona.name)
    if existing_stored is not None:
        raise RoleplayError(
            f"a persona named {existing_stored.persona.name!r} exists "
            f"({existing_stored.path.name}); choose another name"
        )
    _write(path, persona)
    if use:
        _write_active(path.stem)
    return persona


def edit_persona(name: str, /, **changes: Any) -> Persona:
    """Change the fields given (``name``, ``description``, ``big_five``, ``mbti``; None
    clears ``big_five``/``mbti``). A new name renames the file and keeps it active if it was."""
    unknown = sorted(set(changes) - EDITABLE_FIELDS)
    if unknown:
        raise RoleplayError(
            f"cannot edit {', '.join(unknown)} of a persona "
            f"(editable: {', '.join(sorted(EDITABLE_FIELDS))})"
        )
    stored = _get(name)
    if changes.get("name") is None:
        changes.pop("name", None)
    if changes.get("description") is None:
        changes.pop("description", None)
    record = stored.persona.model_dump()
    record.update(changes)
    record["updated_at"] = now()
    persona = _validated(record)
    path = _path_for(persona.name)
    if path != stored.path:
        clash = read_persona_file(path) if path.exists() else None
        other = _find(persona.name)
        if clash is None and other is not None and other.path != stored.path:
            clash = other.persona
        if clash is not None:
            raise RoleplayError(f"cannot rename to {persona.name!r}: that persona exists")
    # The new file first, then the pointer, then the old file: an interruption leaves a
    # copy behind, never a missing persona.
    _write(path, persona)
    if path != stored.path:
        if _active_slug() == stored.slug:
            _write_active(path.stem)
        _unlink(stored.path)
    return persona


def remove_persona(name: str) -> Persona:
    """Delete a persona; if it was active, none is active afterwards."""
    stored = _get(name)
    if _active_slug() == stored.slug:
        clear_active_persona()
    _unlink(stored.path)
    return stored.persona


def _validated(record: Mapping[str, Any]) -> Persona:
    fields = dict(record)
    if isinstance(fields.get("big_five"), BigFive):
        fields["big_five"] = fields["big_five"].as_dict()
    try:
        return Persona.model_validate(fields)
    except ValidationError as error:
        raise RoleplayError(f"invalid persona: {_first_problem(error)}") from None


def _path_for(name: str) -> Path:
    folder = personas_dir()
    path = folder / f"{persona_slug(name)}{SUFFIX}"
    if path.parent != folder:  # safe_slug never makes one; belt and braces
        raise RoleplayError(f"persona name {name!r} cannot be used")
    return path


def _make_folder() -> None:
    folder = personas_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot create {folder}: {error.strerror or error}") from None


def _write(path: Path, persona: Persona) -> None:
    _make_folder()
    replace_atomically(path, persona_to_yaml(persona).encode("utf-8"))


def _unlink(path: Path) -> None:
    try:
        path.unlink(missing_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot remove {path}: {error.strerror or error}") from None


# YAML ----------------------------------------------------------------------------------------


def persona_to_yaml(persona: Persona) -> str:
    """The persona as the YAML file the store writes (a multi-line description as a ``|``
    block when that reads back exactly, else double-quoted)."""
    text = _dump(persona, literal=True)
    if _reads_back(text, persona):
        return text
    return _dump(persona, literal=False)


def _dump(persona: Persona, *, literal: bool) -> str:
    record = persona.model_dump(mode="json", exclude_none=True)
    tree = CommentedMap()
    for key in _FIELD_ORDER:
        if key not in record:
            continue
        value = record[key]
        if key == "big_five":
            flow = CommentedMap(value)
            flow.fa.set_flow_style()
            value = flow
        elif key == "description" and "\n" in value and literal:
            value = LiteralScalarString(value)
        elif isinstance(value, str) and key in ("name", "description"):
            value = DoubleQuotedScalarString(value) if not literal or _odd(value) else value
        tree[key] = value
    tree.yaml_set_start_comment(_HEADER)
    yaml = YAML(typ="rt", pure=True)
    yaml.width = 1_000_000
    yaml.allow_unicode = True
    stream = io.StringIO()
    yaml.dump(tree, stream)
    return stream.getvalue()


def _odd(text: str) -> bool:
    return any(unicodedata.category(char).startswith(("C", "Z")) and char != " " for char in text)


def _reads_back(text: str, persona: Persona) -> bool:
    try:
        document = YAML(typ="safe", pure=True).load(text)
        return Persona.model_validate(document) == persona
    except (YAMLError, ValidationError, ValueError, TypeError):
        return False


# Messages ------------------------------------------------------------------------------------


def _yaml_problem(error: YAMLError) -> str:
    if isinstance(error, MarkedYAMLError) and error.problem_mark is not None:
        mark = error.problem_mark
        return f"line {mark.line + 1}, column {mark.column + 1}: {error.problem}"
    return " ".join(str(error).split())[:200]


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    place = ".".join(str(part) for part in first["loc"])
    message = str(first["msg"]).removeprefix("Value error, ")
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{place}: {message}{more}" if place else f"{message}{more}"


def _shown(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= 64 else name[:63] + "…"


def _quoted(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() else repr(name)
