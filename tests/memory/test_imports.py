"""Importing the memory package (and its CLI) must not pull in the heavy libraries."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("chromadb", "torch", "transformers", "sentence_transformers", "sklearn")


def test_import_is_cheap() -> None:
    code = (
        "import sys, roleplay.memory, roleplay.cli.memory_commands; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
