"""Memories outlive the process that wrote them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from roleplay.memory import CharacterMemory
from tests.memory.conftest import LIGHTHOUSE_MEMORIES, make_card

REPO_ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: reads the store without the embedding model (listing needs
# none), then checks the collection reopened with our embedding function, not Chroma's default.
READER = """
import json, sys
from roleplay.memory.store import MemoryStore
store = MemoryStore(sys.argv[1])
records = [{"id": r.id, "text": r.text, "emotion": r.emotion} for r in store.records()]
function = store._texts.configuration_json["embedding_function"]["name"]
print(json.dumps({"records": records, "embedding_function": function}))
"""


def test_memories_persist_across_processes(memory_home: Path, character_name: str) -> None:
    memory = CharacterMemory(make_card(character_name, LIGHTHOUSE_MEMORIES))
    memory.ensure_seed_memories()
    memory.add_memory("The foghorn sounded twice.", {"surprise": 0.9})
    written = [{"id": r.id, "text": r.text, "emotion": r.emotion} for r in memory.memories()]

    result = subprocess.run(
        [sys.executable, "-c", READER, character_name],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "ROLEPLAY_HOME": str(memory_home)},
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    read = json.loads(result.stdout.strip().splitlines()[-1])
    assert read["records"] == written
    assert read["embedding_function"] == "roleplay-minilm-l6-v2"
