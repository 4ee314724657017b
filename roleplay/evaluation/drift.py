"""Drift: does a character stay in character after a long conversation?

``roleplay eval persona --after-turns N`` first plays the first N messages of a scripted
conversation (``data/drift_conversation.yaml``: flattery, hostility, off-topic requests,
questions about being an AI, the user's own chatty style) through the normal chat path,
memory writes included, then interviews the character *in that conversation*: every item's
prompt carries the conversation so far (within the context budget) and the memories it
left. Long-term memory writes go to a scratch store of the interview (a temporary folder
seeded from the card), never to the user's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from ruamel.yaml import YAML

from roleplay.engine.base import DEFAULT_GENERATION, GenerationSettings
from roleplay.errors import RoleplayError
from roleplay.pipeline import Conversation
from roleplay.resources import package_path

DRIFT_PATH = package_path("roleplay.evaluation", "data", "drift_conversation.yaml")


class _Generation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_new_tokens: int = Field(ge=1)
    min_new_tokens: int = Field(ge=0)
    temperature: float = Field(ge=0)
    seed: int


class DriftScript(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    generation: _Generation
    messages: list[str] = Field(min_length=1)

    def settings(self) -> GenerationSettings:
        """The chat's sampling defaults with the script's over them."""
        from dataclasses import replace

        return replace(
            DEFAULT_GENERATION,
            max_new_tokens=self.generation.max_new_tokens,
            min_new_tokens=self.generation.min_new_tokens,
            temperature=self.generation.temperature,
        )


@cache
def load_drift_script(path: Path = DRIFT_PATH) -> DriftScript:
    return DriftScript.model_validate(YAML(typ="safe", pure=True).load(path.read_text("utf-8")))


def checkpoints(after_turns: Sequence[int], script: DriftScript | None = None) -> list[int]:
    """The turn counts to interview at: 0 and each requested count, sorted, each checked."""
    script = script or load_drift_script()
    longest = len(script.messages)
    for turns in after_turns:
        if not 1 <= turns <= longest:
            raise RoleplayError(
                f"--after-turns {turns}: the scripted conversation has {longest} messages; "
                f"use 1 to {longest}"
            )
    return sorted({0, *after_turns})


def parse_after_turns(text: str) -> list[int]:
    """``"20"`` or ``"5,10,20"`` -> [5, 10, 20] (checked against the script's length)."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RoleplayError(
            f"--after-turns {text!r}: give turn counts, e.g. 20 or 5,10,20"
        ) from None
    if not values:
        raise RoleplayError("--after-turns needs at least one turn count, e.g. 20")
    return [turns for turns in checkpoints(values) if turns]


def play_turns(
    conversation: Conversation,
    start: int,
    stop: int,
    script: DriftScript,
    *,
    seed: int | None = None,
    turn_done: Callable[[int], None] | None = None,
) -> None:
    """Send scripted messages ``start`` to ``stop - 1`` and let the character answer each,
    through the chat path (memory recalled and written, steering on, replies stored).
    Turn ``t``'s reply is sampled with ``seed + t`` (``seed``: the script's unless given)."""
    first_seed = script.generation.seed if seed is None else seed
    for turn in range(start, stop):
        message = script.messages[turn]
        conversation.send(message, seed=first_seed + turn).text()
        if turn_done is not None:
            turn_done(turn + 1)
