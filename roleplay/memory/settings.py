"""Memory defaults from ``data/memory_defaults.yaml``, as typed, validated values."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, get_args

from roleplay.memory.data_files import DEFAULTS_PATH, read_yaml
from roleplay.memory.mood import MoodSettings
from roleplay.memory.strategies import StrategyWeights, check_strategy

RememberPolicy = Literal["statements", "user", "exchange"]
REMEMBER_POLICIES: tuple[str, ...] = get_args(RememberPolicy)


@dataclass(frozen=True)
class RememberSettings:
    """What a finished turn leaves in memory (``remember`` in memory_defaults.yaml)."""

    policy: RememberPolicy = "statements"
    min_words: int = 3

    def __post_init__(self) -> None:
        if self.policy not in REMEMBER_POLICIES:
            raise ValueError(f"remember.policy {self.policy!r}: use one of {REMEMBER_POLICIES}")
        if self.min_words < 0:
            raise ValueError("remember.min_words must be 0 or more")


@dataclass(frozen=True)
class MemorySettings:
    strategy: str
    weights: StrategyWeights
    mood: MoodSettings
    candidates: int
    max_text_chars: int
    remember: RememberSettings = RememberSettings()


@lru_cache(maxsize=1)
def default_settings() -> MemorySettings:
    data: dict[str, Any] = read_yaml(DEFAULTS_PATH)
    return MemorySettings(
        strategy=check_strategy(str(data["strategy"])),
        weights=StrategyWeights(**data["weights"]),
        mood=MoodSettings(**data["mood"]),
        candidates=int(data["recall"]["candidates"]),
        max_text_chars=int(data["limits"]["max_text_chars"]),
        remember=RememberSettings(**data.get("remember", {})),
    )
