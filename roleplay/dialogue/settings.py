"""Scene-generation settings from ``data/dialogue.yaml``."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator
from ruamel.yaml import YAML

from roleplay.engine.base import DEFAULT_GENERATION, GenerationSettings
from roleplay.resources import package_path

DATA_PATH = package_path("roleplay.dialogue", "data", "dialogue.yaml")


class _Generation(BaseModel):
    """Where scene lines differ from the chat's sampling; an unset value is the chat's
    (``roleplay.engine.base.DEFAULT_GENERATION``), so no default is repeated in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int | None = Field(default=None, ge=1)
    min_new_tokens: int | None = Field(default=None, ge=0)
    temperature: float | None = Field(default=None, ge=0)
    top_p: float | None = Field(default=None, gt=0, le=1)
    top_k: int | None = Field(default=None, ge=0)
    repetition_penalty: float | None = Field(default=None, gt=0)


class _EchoGuard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    ngram: int = Field(ge=1)
    max_overlap: float = Field(gt=0, le=1)
    retries: int = Field(ge=0, le=5)


class _Backtest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    system_prompt: str

    @field_validator("system_prompt")
    @classmethod
    def _has_lines(cls, text: str) -> str:
        if "{lines}" not in text:
            raise ValueError("the back-test system prompt must contain {lines}")
        return text


class DialogueSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    narrator: str = Field(min_length=1)
    opening: str
    others_joiner: str
    others_last_joiner: str
    generation: _Generation
    echo_guard: _EchoGuard
    backtest: _Backtest

    def opening_line(self, topic: str) -> str:
        return self.opening.replace("{topic}", topic)

    def others_label(self, names: list[str]) -> str:
        """``["Sable", "Pip", "Hana"]`` -> ``"Sable, Pip and Hana"``."""
        if len(names) <= 1:
            return "".join(names)
        return self.others_joiner.join(names[:-1]) + self.others_last_joiner + names[-1]

    def generation_settings(self, *, max_new_tokens: int | None = None) -> GenerationSettings:
        """The chat's sampling defaults with this file's ``generation`` values over them."""
        settings = replace(DEFAULT_GENERATION, **self.generation.model_dump(exclude_none=True))
        if max_new_tokens is not None:
            settings = replace(
                settings,
                max_new_tokens=max_new_tokens,
                min_new_tokens=min(settings.min_new_tokens, max_new_tokens),
            )
        return settings


@cache
def load_dialogue_settings(path: Path = DATA_PATH) -> DialogueSettings:
    return DialogueSettings.model_validate(
        YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    )
