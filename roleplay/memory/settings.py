"""Memory defaults from ``data/memory_defaults.yaml``, as typed, validated values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from roleplay.memory.data_files import DEFAULTS_PATH, read_yaml
from roleplay.memory.mood import MoodSettings
from roleplay.memory.strategies import StrategyWeights, check_strategy


@dataclass(frozen=True)
class MemorySettings:
    strategy: str
    weights: StrategyWeights
    mood: MoodSettings
    candidates: int
    max_text_chars: int


@lru_cache(maxsize=1)
def default_settings() -> MemorySettings:
    data: dict[str, Any] = read_yaml(DEFAULTS_PATH)
    return MemorySettings(
        strategy=check_strategy(str(data["strategy"])),
        weights=StrategyWeights(**data["weights"]),
        mood=MoodSettings(**data["mood"]),
        candidates=int(data["recall"]["candidates"]),
        max_text_chars=int(data["limits"]["max_text_chars"]),
    )
