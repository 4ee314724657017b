"""Dialogue corpora: many scenes written as JSONL, resumable after an interruption.

A corpus folder holds two files:

- ``utterances.jsonl``: one line per utterance (scene id, turn, speaker, text, topic, the
  speaker card's traits, detected emotion and toxicity with their scorers' names);
- ``scenes.jsonl``: one line per *completed* scene (its spec and model), written after the
  scene's utterances are on disk (flushed and fsynced).

A scene is complete exactly when its manifest line exists. On start the writer drops what
an interruption may have left behind (a scene's utterances without a manifest line, a
half-written last line) and the generator skips completed scenes, so re-running the same
command finishes the corpus. A completed scene whose spec differs from the new plan means
the folder belongs to another corpus: that is an error, never a silent mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from roleplay.dialogue.annotate import Annotator
from roleplay.dialogue.scene import SceneSpec, Utterance
from roleplay.dialogue.turns import Policy
from roleplay.errors import RoleplayError

UTTERANCES_FILE = "utterances.jsonl"
SCENES_FILE = "scenes.jsonl"
SEED_STRIDE = 1000  # scene i samples with seeds seed + 1000 * i + turn: no overlap below 1000 turns

Record = dict[str, Any]


def read_topics(path: Path) -> list[str]:
    """Topics from a text file: one per line; blank lines and ``#`` comments are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RoleplayError(f"{path}: no such topics file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RoleplayError(f"{path}: cannot read the topics file ({error})") from None
    topics = [line.strip() for line in text.splitlines()]
    topics = [topic for topic in topics if topic and not topic.startswith("#")]
    if not topics:
        raise RoleplayError(f"{path}: the topics file has no topics (one per line)")
    return topics


def plan_scenes(
    characters: Sequence[Path],
    topics: Sequence[str],
    *,
    scenes: int,
    turns: int,
    policy: Policy,
    seed: int,
) -> list[SceneSpec]:
    """Scene ``i`` takes topic ``i mod len(topics)`` and rotates who speaks first."""
    if scenes < 1:
        raise RoleplayError(f"--scenes must be at least 1, got {scenes}")
    if not topics:
        raise RoleplayError("no topics given")
    plans = []
    for index in range(scenes):
        shift = index % len(characters)
        cast = (*characters[shift:], *characters[:shift])
        plans.append(
            SceneSpec(
                scene_id=f"scene-{index:05d}",
                characters=tuple(cast),
                topic=topics[index % len(topics)],
                turns=turns,
                policy=policy,
                seed=seed + SEED_STRIDE * index,
            )
        )
    return plans


def _parse_lines(path: Path) -> tuple[list[Record], bool]:
    """The file's JSON records, and whether anything unreadable had to be skipped."""
    if not path.exists():
        return [], False
    records: list[Record] = []
    damaged = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            damaged = True  # an interrupted write: the line is dropped, its scene redone
            continue
        if isinstance(record, dict):
            records.append(record)
        else:
            damaged = True
    return records, damaged


def _rewrite(path: Path, records: Iterable[Record]) -> None:
    """Replace ``path`` atomically (temporary file + rename)."""
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            for record in records:
                file.write(json.dumps(record, ensure_ascii=False) + "\n")
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _append(path: Path, records: Sequence[Record]) -> None:
    """Append whole lines, one ``write`` each (O_APPEND), then fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for record in records:
            os.write(fd, (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class CorpusWriter:
    folder: Path
    completed: dict[str, Record]
    repaired_lines: int = 0  # utterance lines dropped because their scene was unfinished

    @classmethod
    def open(cls, folder: Path) -> CorpusWriter:
        """Open (or create) a corpus folder and clean up after an interrupted run."""
        if folder.exists() and not folder.is_dir():
            raise RoleplayError(f"{folder}: --out must be a folder")
        folder.mkdir(parents=True, exist_ok=True)
        scenes_path, utterances_path = folder / SCENES_FILE, folder / UTTERANCES_FILE
        scenes, scenes_damaged = _parse_lines(scenes_path)
        completed = {str(s["scene_id"]): s for s in scenes if "scene_id" in s}
        if scenes_damaged:
            _rewrite(scenes_path, completed.values())
        utterances, damaged = _parse_lines(utterances_path)
        kept = [u for u in utterances if u.get("scene_id") in completed]
        dropped = len(utterances) - len(kept)
        if damaged or dropped:
            _rewrite(utterances_path, kept)
        return cls(folder, completed, dropped)

    def check_plan(self, specs: Sequence[SceneSpec], scene_records: Sequence[Record]) -> None:
        """Refuse to resume into a folder made with other settings."""
        for spec, planned in zip(specs, scene_records, strict=True):
            done = self.completed.get(spec.scene_id)
            if done is None:
                continue
            for key, value in planned.items():
                if done.get(key) != value:
                    raise RoleplayError(
                        f"{self.folder} holds a corpus made with other settings "
                        f"({spec.scene_id}: {key} was {done.get(key)!r}, now {value!r}); "
                        "use another --out folder"
                    )

    def is_complete(self, scene_id: str) -> bool:
        return scene_id in self.completed

    def append_scene(self, scene_record: Record, utterances: Sequence[Record]) -> None:
        _append(self.folder / UTTERANCES_FILE, utterances)
        _append(self.folder / SCENES_FILE, [scene_record])
        self.completed[str(scene_record["scene_id"])] = scene_record

    def utterances(self) -> list[Record]:
        return _parse_lines(self.folder / UTTERANCES_FILE)[0]


def utterance_records(
    utterances: Sequence[Utterance], topic: str, annotator: Annotator | None = None
) -> list[Record]:
    """JSONL records of a scene's utterances, annotated in one batch per scorer."""
    texts = [utterance.text for utterance in utterances]
    emotions = annotator.emotions(texts) if annotator else [None] * len(texts)
    toxicity = annotator.toxicity(texts) if annotator else [None] * len(texts)
    return [
        {
            "scene_id": utterance.scene_id,
            "turn": utterance.turn,
            "speaker": utterance.speaker,
            "text": utterance.text,
            "topic": topic,
            "traits": utterance.traits,
            "emotion": emotion,
            "toxicity": toxic,
        }
        for utterance, emotion, toxic in zip(utterances, emotions, toxicity, strict=True)
    ]
