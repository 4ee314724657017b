"""The TUI's async tests run on anyio's pytest plugin, on asyncio (what Textual needs)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
