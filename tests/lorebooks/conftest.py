"""A realistic SillyTavern World Info file (tests/lorebooks/data/shadowfen.json: every field
SillyTavern 1.12 writes, a regex key, non-ASCII text, a field no tool defines, no trailing
newline) and helpers to write variants of it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

DATA = Path(__file__).parent / "data"
SHADOWFEN = DATA / "shadowfen.json"


def world_info(**changes: Any) -> dict[str, Any]:
    """The Shadowfen book as a dict; ``changes`` update the top level (e.g. originalData)."""
    document: dict[str, Any] = json.loads(SHADOWFEN.read_text(encoding="utf-8"))
    document.update(changes)
    return document


@pytest.fixture
def write_json(tmp_path: Path) -> Any:
    def write(document: Any, name: str = "book.json") -> Path:
        path = tmp_path / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
        return path

    return write
