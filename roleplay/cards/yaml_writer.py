"""Write a card as the YAML a person would write: field order, block text, comments.

Used by ``roleplay card import`` and ``roleplay card new``. Defaults are left out so the file
only says what the card says; multi-line text becomes a ``|`` block. Every file written is
read back by the normal loader before it is kept (see ``roleplay.interop.files``), so what
this module emits is checked, not trusted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from roleplay.cards.model import Card

# A comment placed above the key at this path (keys only; list items have no comments).
Notes = Mapping[tuple[str, ...], str]

# ruamel's emitter treats these as line breaks inside plain and block scalars and then reads
# them back differently (a CR in a `|` block is lost, NEL turns into a space); double quotes
# escape them (\r, \N, \L, \P) and round-trip exactly.
_ODD_BREAKS = frozenset("\r\x85\u2028\u2029")
# What YAML allows unescaped (YAML 1.2, 5.1 "c-printable"), minus the BOM. A `|` block
# cannot escape anything, so text with other characters is written double-quoted.
_PRINTABLE = re.compile(
    "[\t\n\x20-\x7e\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]*"
)
# Small mappings that read best on one line.
_FLOW_PATHS = frozenset({("personality", "big_five"), ("memories", "emotion")})
# A dialogue line reads best as `{role: user, content: ...}` while it fits on a line.
_DIALOGUE_PATH = ("example_dialogues",)
_FLOW_UNSAFE_STARTS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_SHORT_LINE = 70
_INDENT = 2


def card_to_yaml(card: Card, *, header: Sequence[str] = (), notes: Notes | None = None) -> str:
    """The card as commented YAML text; ``header`` lines become comments at the top."""
    data = card.model_dump(mode="python", exclude_defaults=True)
    # `name`, `description` and `personality` are required, so they are never defaults;
    # big_five is dumped whole even when scores equal some default elsewhere.
    tree = _to_tree(data, ())
    assert isinstance(tree, CommentedMap)
    for path, note in (notes or {}).items():
        _attach_note(tree, path, note)
    if header:
        tree.yaml_set_start_comment("\n".join(header))
    stream = io.StringIO()
    _yaml().dump(tree, stream)
    return stream.getvalue()


def _yaml() -> YAML:
    yaml = YAML(typ="rt", pure=True)
    # No wrapping: the emitter folds long double-quoted scalars at spaces, and a fold next to
    # an escape (e.g. "\x7F 0") does not always read back to the same text.
    yaml.width = 1_000_000
    yaml.indent(mapping=_INDENT, sequence=_INDENT * 2, offset=_INDENT)
    yaml.allow_unicode = True
    return yaml


def _to_tree(value: Any, path: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        mapping = CommentedMap()
        for key, item in value.items():
            mapping[_scalar(str(key))] = _to_tree(item, (*path, str(key)))
        if path in _FLOW_PATHS or (path == _DIALOGUE_PATH and _is_short_line(value)):
            mapping.fa.set_flow_style()
            for key, item in mapping.items():
                mapping[key] = _flow_safe(item)
        return mapping
    if isinstance(value, (list, tuple)):
        return CommentedSeq(_to_tree(item, path) for item in value)
    if isinstance(value, str):
        return _scalar(value)
    return value


def _flow_safe(item: Any) -> Any:
    """A plain string that starts with a YAML indicator, double-quoted: in a flow mapping
    ruamel's emitter writes e.g. ``?0`` or ``: 0`` unquoted, and its parser then refuses
    them ("expected the node content, but found '?'")."""
    if type(item) is str and item[:1] in _FLOW_UNSAFE_STARTS:
        return DoubleQuotedScalarString(item)
    return item


def _is_short_line(line: Mapping[str, Any]) -> bool:
    content = line.get("content")
    return isinstance(content, str) and len(content) <= _SHORT_LINE and "\n" not in content


def _scalar(text: str) -> str:
    if any(character in _ODD_BREAKS for character in text) or not _PRINTABLE.fullmatch(text):
        return DoubleQuotedScalarString(text)
    if "\n" in text.rstrip("\n") or text.endswith("\n"):
        return LiteralScalarString(text)
    return text


def _attach_note(tree: CommentedMap, path: tuple[str, ...], note: str) -> None:
    node: Any = tree
    for part in path[:-1]:
        if not isinstance(node, CommentedMap) or part not in node:
            return
        node = node[part]
    if isinstance(node, CommentedMap) and path[-1] in node:
        node.yaml_set_comment_before_after_key(
            path[-1], before=note, indent=_INDENT * (len(path) - 1)
        )
