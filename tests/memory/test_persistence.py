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


def test_new_collections_get_the_measured_index_settings(character_name: str) -> None:
    from roleplay.memory.store import EMOTION_INDEX, TEXT_INDEX, MemoryStore

    store = MemoryStore(character_name)
    texts = store._texts.configuration["hnsw"]
    emotions = store._emotion_index.configuration["hnsw"]
    assert texts is not None and emotions is not None
    assert texts["ef_construction"] == TEXT_INDEX["ef_construction"] == 50
    assert emotions["max_neighbors"] == EMOTION_INDEX["max_neighbors"] == 8
    assert texts["space"] == emotions["space"] == "cosine"


def test_stores_written_with_one_entry_per_emotion_still_recall(character_name: str) -> None:
    """A store from before the emotion vector became one metadata entry reads the same."""
    from roleplay.memory.emotions import LEGACY_EMOTION_KEYS

    memory = CharacterMemory(make_card(character_name))
    memory_id = memory.add_memory("The lighthouse lamp went dark.", {"fear": 0.9})
    stored = memory.store._texts.get(ids=[memory_id], include=["metadatas"])
    legacy = {key: value for key, value in dict(stored["metadatas"][0]).items() if key != "emotion"}
    # 0.7, not the 0.9 written: the record must come from the legacy entries.
    legacy.update({key: 0.0 for key in LEGACY_EMOTION_KEYS} | {"emo_fear": 0.7})
    memory.store._texts.update(ids=[memory_id], metadatas=[legacy])
    # Chroma merges metadata on update; drop the new-style entry explicitly.
    legacy_only = {**legacy, "emotion": None}
    memory.store._texts.update(ids=[memory_id], metadatas=[legacy_only])
    (record,) = memory.memories()
    assert record.emotion["fear"] == 0.7
    assert "emo_fear" not in record.metadata
    (hit,) = memory.recall("lighthouse", [], k=1, emotion_override={"fear": 1.0})
    assert hit.id == memory_id
