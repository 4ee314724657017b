"""What an evaluation runs: scoring methods and pipeline conditions, parsed and checked.

Conditions add parts cumulatively, so each column of the report shows what one part adds:
``prompt`` (the card's system prompt only), ``controller`` (prompt + steering from the
card's traits), ``memory`` (prompt + controller + the character's recalled memories).
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from roleplay.errors import RoleplayError
from roleplay.evaluation import parts


class Method(StrEnum):
    EXPECTED_LIKERT = "expected-likert"
    GRAMMAR = "grammar"
    LIKELIHOOD = "likelihood"


class Condition(StrEnum):
    PROMPT = "prompt"
    CONTROLLER = "controller"
    MEMORY = "memory"


METHOD_DESCRIPTIONS: dict[Method, str] = {
    Method.EXPECTED_LIKERT: "expected Likert value from next-token probabilities of 1..5",
    Method.GRAMMAR: "greedy Likert digit under a transformers-cfg grammar",
    Method.LIKELIHOOD: (
        "log-likelihood of saying each item statement, minus a neutral role-player's, "
        "centred per trait across the characters"
    ),
}

CONDITION_LABELS: dict[Condition, str] = {
    Condition.PROMPT: "prompt",
    Condition.CONTROLLER: "prompt + controller",
    Condition.MEMORY: "prompt + controller + memory",
}


CONDITION_SHORT: dict[Condition, str] = {
    Condition.PROMPT: "prompt",
    Condition.CONTROLLER: "+ctrl",
    Condition.MEMORY: "+ctrl+mem",
}


def uses_controller(condition: Condition) -> bool:
    return condition in (Condition.CONTROLLER, Condition.MEMORY)


def uses_memory(condition: Condition) -> bool:
    return condition is Condition.MEMORY


def _parse(values: Iterable[str], kind: type[StrEnum], what: str) -> list[str]:
    chosen: list[str] = []
    for value in values:
        for name in (part.strip().lower() for part in value.split(",")):
            if not name:
                continue
            if name not in {member.value for member in kind}:
                known = ", ".join(member.value for member in kind)
                raise RoleplayError(f"unknown {what} {name!r}; choose from {known}")
            if name not in chosen:
                chosen.append(name)
    if not chosen:
        raise RoleplayError(f"no {what} given")
    return chosen


def parse_methods(values: Iterable[str]) -> list[Method]:
    """``["expected-likert,likelihood"]`` -> methods, in the order given; bad names raise."""
    return [Method(name) for name in _parse(values, Method, "method")]


def parse_conditions(values: Iterable[str]) -> list[Condition]:
    return [Condition(name) for name in _parse(values, Condition, "condition")]


def unavailable_reason(item: Method | Condition) -> str | None:
    """Why a method or condition cannot run in this install (None when it can)."""
    if item is Method.GRAMMAR and (missing := parts.grammar_missing()) is not None:
        return parts.missing_reason(
            "the grammar method needs roleplay.control.grammar (the controller package)", missing
        )
    if isinstance(item, Condition):
        if uses_controller(item) and (missing := parts.controller_missing()) is not None:
            return parts.missing_reason(
                f"condition {item.value!r} needs roleplay.control (the controller package)",
                missing,
            )
        if uses_memory(item) and (missing := parts.memory_missing()) is not None:
            return parts.missing_reason(
                f"condition {item.value!r} needs roleplay.memory (CharacterMemory)", missing
            )
    return None


def require_available(items: Iterable[Method | Condition]) -> None:
    for item in items:
        reason = unavailable_reason(item)
        if reason is not None:
            raise RoleplayError(reason)
