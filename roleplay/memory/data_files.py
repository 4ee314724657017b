"""The memory package's data files (prototype sentences, calibration, defaults)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from roleplay.memory.emotions import EMOTIONS
from roleplay.resources import package_path

DATA_DIR = package_path("roleplay.memory", "data")
PROTOTYPES_PATH = DATA_DIR / "emotion_prototypes.yaml"
CALIBRATION_SET_PATH = DATA_DIR / "emotion_calibration.yaml"
CALIBRATION_FIT_PATH = DATA_DIR / "emotion_calibration_fit.json"
DEFAULTS_PATH = DATA_DIR / "memory_defaults.yaml"

NEUTRAL = "neutral"


def read_yaml(path: Path) -> Any:
    """Plain Python values from a trusted, bundled YAML file (safe loader)."""
    return YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))


def load_sentence_groups(path: Path, *, allow_neutral: bool) -> dict[str, list[str]]:
    """``{label: [sentence, ...]}`` from a YAML mapping keyed by emotion (and ``neutral``)."""
    data = read_yaml(path)
    allowed = set(EMOTIONS) | ({NEUTRAL} if allow_neutral else set())
    if not isinstance(data, dict) or not set(data) <= allowed:
        raise ValueError(f"{path}: top-level keys must be among {sorted(allowed)}")
    groups: dict[str, list[str]] = {}
    for label, sentences in data.items():
        if not isinstance(sentences, list) or not all(isinstance(s, str) for s in sentences):
            raise ValueError(f"{path}: {label} must be a list of sentences")
        groups[str(label)] = [s.strip() for s in sentences if s.strip()]
    return groups
