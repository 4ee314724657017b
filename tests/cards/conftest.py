"""Helpers for card tests: write card files into a temporary folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

VALID_CARD = """\
name: Test Card
description: A character used by the tests.
personality:
  big_five:
    openness: 0.5
    conscientiousness: 0.5
    extraversion: 0.5
    agreeableness: 0.5
    neuroticism: 0.5
"""

WriteCard = Callable[..., Path]


@pytest.fixture
def write_card(tmp_path: Path) -> WriteCard:
    """Write text (or raw bytes) to ``tmp_path/name`` and return the path."""

    def write(content: str | bytes, name: str = "card.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        return path

    return write
