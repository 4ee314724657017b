"""Read a card file into a ruamel round-trip tree, defensively.

Cards come from strangers, so everything that could be slow, ambiguous or dangerous is
refused up front with one located line instead of a traceback: oversized, binary or
non-UTF-8 files, anchors and aliases (the "billion laughs" bomb; cards never need them),
merge keys, custom tags, deep nesting and duplicate keys. The tree keeps ruamel's ``.lc``
line/column records so later validation errors can point at the offending line.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer
from ruamel.yaml.constructor import RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, ScalarEvent
from ruamel.yaml.nodes import MappingNode
from ruamel.yaml.reader import ReaderError

from roleplay.errors import Problem

MAX_CARD_BYTES = 1_000_000
# A card nests five levels deep (card > example_dialogues > dialogue > line > content);
# the cap leaves room for extensions while keeping ruamel's recursive composer far from
# Python's recursion limit.
MAX_DEPTH = 40

# A hand-written card has a few hundred YAML values; the pure-Python round-trip parser
# needs ~40 µs per value, so capping the count keeps even a hostile 1 MB file well under a
# second instead of ~10 s.
MAX_NODES = 10_000
# Same reason for lines: ruamel spends ~6 µs on each comment line, and a card is ~100 lines.
MAX_LINES = 20_000

# Explicit tags a card may use: the JSON-like core schema. Anything else (!!python/...,
# !!binary, !!set, !custom) is refused rather than turned into objects nobody expects.
_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "map", "seq")
)
_NON_SPECIFIC_TAG = "!"

# Hints for the YAML mistakes people actually make when writing cards by hand.
_SYNTAX_REWRITES = {
    "but found another document": "the file holds more than one YAML document (---)",
}
_SYNTAX_HINTS = {
    "found character '\\t' that cannot start any token": "indent with spaces, not tabs",
    "mapping values are not allowed here": "put text that contains ': ' in quotes",
}


@dataclass
class YamlDocument:
    """The parsed tree (``None`` when the file could not be read) and what was wrong."""

    tree: Any
    problems: list[Problem] = field(default_factory=list)


class _Refused(Exception):
    """Valid YAML that a card may not use; carries the 0-based ruamel mark."""

    def __init__(self, message: str, mark: Any) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _CardComposer(Composer):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.node_count = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        self.node_count += 1
        if self.node_count > MAX_NODES:
            raise _Refused(
                f"card is too large (more than {MAX_NODES} YAML values)", event.start_mark
            )
        if self.depth >= MAX_DEPTH:
            raise _Refused(f"nesting is too deep (more than {MAX_DEPTH} levels)", event.start_mark)
        if isinstance(event, AliasEvent) or event.anchor is not None:
            raise _Refused(
                "YAML anchors and aliases (&name, *name) are not allowed in cards",
                event.start_mark,
            )
        # ruamel composes a mapping's key with index None (values get their key node).
        # A list or mapping used as a key is legal YAML but unhashable trouble downstream.
        is_key = isinstance(parent, MappingNode) and index is None
        if is_key and not isinstance(event, (ScalarEvent, AliasEvent)):
            raise _Refused("keys must be plain text, not lists or mappings", event.start_mark)
        if is_key and isinstance(event, ScalarEvent) and event.value == "<<" and not event.style:
            # A plain `<<` key is YAML 1.1's merge key: it splices another mapping in,
            # hiding keys from line tracking. Cards never need it; quoted '<<' is text.
            raise _Refused(
                "YAML merge keys (<<:) are not allowed in cards; quote '<<' if it is text",
                event.start_mark,
            )
        tag = getattr(event, "ctag", None)
        if tag is not None and str(tag) != _NON_SPECIFIC_TAG and str(tag) not in _CORE_TAGS:
            shown = str(tag).replace("tag:yaml.org,2002:", "!!")
            raise _Refused(f"YAML tag {shown!r} is not allowed in cards", event.start_mark)
        return super().compose_node(parent, index)


class _CardConstructor(RoundTripConstructor):
    """Round-trip constructor that records every duplicate key instead of stopping at one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicates: list[tuple[Any, str, int]] = []

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        if key in mapping:
            first_line = mapping.lc.key(key)[0] + 1
            self.duplicates.append((key_node.start_mark, str(key), first_line))
            return False  # keep the first value; the duplicate is reported as an error
        return True

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        # ruamel raises bare ValueError/KeyError for values such as `2024-13-45` or
        # `!!int abc`; attach the node's position so the user learns where.
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, KeyError, TypeError, OverflowError) as error:
            shown = repr(node.value) if isinstance(node.value, str) else "this value"
            raise _Refused(
                f"cannot read {shown[:60]} as {_tag_kind(node.tag)} ({error}); "
                "put it in quotes if it is meant as text",
                node.start_mark,
            ) from None


def _tag_kind(tag: Any) -> str:
    kind = str(tag).rsplit(":", 1)[-1]
    return {"timestamp": "a date", "int": "an integer", "float": "a number"}.get(kind, kind)


def _new_yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    yaml.Composer = _CardComposer
    yaml.Constructor = _CardConstructor
    yaml.max_depth = MAX_DEPTH + 1  # backstop; _CardComposer reports it more clearly
    yaml.allow_duplicate_keys = True  # our constructor reports them all, with locations
    return yaml


def read_card_yaml(path: Path) -> YamlDocument:
    """Parse ``path``; ``tree`` is ``None`` when nothing usable could be read."""
    display = str(path)

    def fatal(message: str, line: int = 1, column: int = 1) -> YamlDocument:
        return YamlDocument(None, [Problem(display, line, column, message)])

    raw = _read_bounded(path)
    if isinstance(raw, str):
        return fatal(raw)
    text = _decode(display, raw)
    if isinstance(text, Problem):
        return YamlDocument(None, [text])
    if not text.strip():
        return fatal("file is empty; a card needs at least name, description and personality")

    yaml = _new_yaml()
    try:
        tree = yaml.load(text)
    except _Refused as refused:
        return fatal(refused.message, refused.mark.line + 1, refused.mark.column + 1)
    except MarkedYAMLError as error:
        return fatal(*_syntax_message(error))
    except ReaderError as error:
        line, column = _line_col(text, error.position)
        return fatal(_reader_message(error), line, column)
    except RecursionError:
        return fatal(f"nesting is too deep (more than {MAX_DEPTH} levels)")
    except YAMLError as error:
        return fatal(f"YAML error: {_one_line(str(error))}")
    except Exception as error:
        # Last resort: ruamel is a large pure-Python parser fed untrusted text, and fuzzing
        # has found inputs where it raises bare TypeErrors. A card check must answer with
        # one line, never a traceback; the exception type keeps the report debuggable.
        detail = _one_line(str(error))[:200]
        return fatal(f"cannot parse this YAML ({type(error).__name__}: {detail})")

    if tree is None:
        return fatal("card is empty (only comments); it needs name, description and personality")
    duplicates = yaml.constructor.duplicates
    problems = [
        Problem(
            display,
            mark.line + 1,
            mark.column + 1,
            f"duplicate key {key!r} (first defined on line {first_line})",
        )
        for mark, key, first_line in duplicates
    ]
    return YamlDocument(tree, problems)


def _read_bounded(path: Path) -> bytes | str:
    """The file's bytes, or a one-line reason why it cannot be a card."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return "file not found"
    except NotADirectoryError:
        return "file not found (a parent of this path is a file)"
    except PermissionError:
        return "permission denied"
    except OSError as error:
        return f"cannot read file: {error.strerror or error}"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a card file (give the path of a .yaml file)"
    # FIFOs and devices could block forever or never end; only regular files are read.
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file"
    if info.st_size > MAX_CARD_BYTES:
        return f"file is too large ({_megabytes(info.st_size)}); cards are limited to 1 MB"
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: the file may have grown since stat().
            raw = handle.read(MAX_CARD_BYTES + 1)
    except OSError as error:
        return f"cannot read file: {error.strerror or error}"
    if len(raw) > MAX_CARD_BYTES:
        return "file is too large; cards are limited to 1 MB"
    lines = raw.count(b"\n")
    if lines > MAX_LINES:
        return f"file is too long ({lines} lines); cards are limited to {MAX_LINES}"
    return raw


def _decode(display: str, raw: bytes) -> str | Problem:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Problem(display, 1, 1, "file is UTF-16 encoded; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line, column = _byte_line_col(raw, nul)
        return Problem(display, line, column, "binary file (contains NUL bytes), not YAML text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line, column = _byte_line_col(raw, error.start)
        byte = raw[error.start]
        return Problem(display, line, column, f"not valid UTF-8 (byte 0x{byte:02x}); save as UTF-8")


def _byte_line_col(raw: bytes, offset: int) -> tuple[int, int]:
    line_start = raw.rfind(b"\n", 0, offset) + 1
    prefix = raw[line_start:offset].decode("utf-8", errors="replace")
    return raw.count(b"\n", 0, offset) + 1, len(prefix) + 1


def _line_col(text: str, position: int) -> tuple[int, int]:
    line_start = text.rfind("\n", 0, position) + 1
    return text.count("\n", 0, position) + 1, position - line_start + 1


def _syntax_message(error: MarkedYAMLError) -> tuple[str, int, int]:
    problem = _one_line(error.problem or "invalid YAML")
    if problem in _SYNTAX_REWRITES:  # ruamel's wording reads backwards for these
        mark = error.problem_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        return f"YAML error: {_SYNTAX_REWRITES[problem]}; a card is a single document", line, column
    mark = error.problem_mark or error.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    message = f"YAML syntax error: {problem}"
    context_mark = error.context_mark
    if error.context:
        context = _one_line(error.context)
        if context_mark is not None and (context_mark.line, context_mark.column) != (
            line - 1,
            column - 1,
        ):
            context += f" started at line {context_mark.line + 1}, column {context_mark.column + 1}"
        message += f" ({context})"
    hint = _SYNTAX_HINTS.get(error.problem or "")
    if hint:
        message += f"; {hint}"
    return message, line, column


def _reader_message(error: ReaderError) -> str:
    character = error.character
    if isinstance(character, int):
        return f"control character U+{character:04X} is not allowed in YAML text"
    return f"unreadable character in YAML text ({error.reason})"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


__all__ = [
    "MAX_CARD_BYTES",
    "MAX_DEPTH",
    "MAX_LINES",
    "MAX_NODES",
    "YamlDocument",
    "read_card_yaml",
]
