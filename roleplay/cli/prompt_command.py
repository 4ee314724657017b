"""`roleplay prompt`: print exactly what the model will see for a message."""

from __future__ import annotations

import json
import sys
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from roleplay.cli.chat import open_conversation
from roleplay.cli.options import (
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    CharacterOption,
    ChromaUrlOption,
    ContextWindowOption,
    LorebookOption,
    MemoryOption,
    ModelOption,
    NoSteerOption,
    PersonaOption,
    PromptLayoutOption,
    SteerOption,
    ThreadsOption,
    UserNameOption,
    backend_options,
    card_path,
    check_session,
    feature_options,
    lorebook_names,
    prompt_layout,
    user_identity,
)
from roleplay.cli.runtime import RuntimeOptions, load_cli_pipeline
from roleplay.engine.base import DEFAULT_GENERATION
from roleplay.errors import RoleplayError
from roleplay.pipeline import Conversation

diagnostics = Console(stderr=True, highlight=False)


def prompt_command(
    message: str = typer.Argument(..., help="The user message to build a prompt for."),
    character: str = CharacterOption,
    session: str | None = typer.Option(
        None, "--session", "-s", help="Use a saved session's history."
    ),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    layout: str = PromptLayoutOption,
    user_name: str | None = UserNameOption,
    persona: str | None = PersonaOption,
    max_new_tokens: int = typer.Option(
        DEFAULT_GENERATION.max_new_tokens, "--max-new-tokens", min=1, max=4096
    ),
    context_window: int | None = ContextWindowOption,
    lorebook: list[str] | None = LorebookOption,
    memory: bool = MemoryOption,
    chroma_url: str | None = ChromaUrlOption,
    steer: str | None = SteerOption,
    no_steer: bool = NoSteerOption,
    json_output: bool = typer.Option(
        False, "--json", help="Print the prompt and its diagnostics as JSON."
    ),
) -> None:
    """Print exactly what the model will see for MESSAGE. The rendered chat-template text
    goes to stdout, diagnostics to stderr."""
    options = RuntimeOptions(
        backend=backend_options(backend, model, base_url, api_key, threads, context_window),
        prompt_layout=prompt_layout(layout),
        max_new_tokens=max_new_tokens,
        features=feature_options(memory, chroma_url, steer, no_steer),
        lorebooks=lorebook_names(lorebook),
    )
    # The card or the session is checked before the model loads (a typo fails at once).
    resolved = None if session else card_path(character)
    name, persona_info = user_identity(user_name, persona)
    if session and check_session(session):
        raise RoleplayError(
            f"session {session} is a group scene; `roleplay prompt` shows one-to-one chats"
        )
    pipeline = load_cli_pipeline(options, quiet=True)
    if session:
        conversation = pipeline.resume(session)
    else:
        # A throwaway session: `prompt` must not leave sessions behind.
        conversation = open_conversation(pipeline, resolved, None, name, persona_info)
    try:
        prepared = conversation.prepare(message)
    finally:
        if not session:
            pipeline.store.delete_session(conversation.session.id)
    built = prepared.prompt
    if json_output:
        record = {
            "text": built.text,
            "prompt_tokens": built.prompt_tokens,
            "token_budget": built.token_budget,
            "dropped_messages": built.dropped_messages,
            "memories": [
                {"id": m.memory_id, "text": m.text, "score": m.score} for m in built.memories
            ],
            "dropped_memories": built.dropped_memories,
            "lore": [
                {"name": entry.name, "content": entry.content, "reason": entry.reason}
                for entry in built.lore
            ],
            "dropped_lore": built.dropped_lore,
            "lore_notes": _lore_notes(conversation),
            "mood": prepared.mood,
            "controls": prepared.controls,
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")
        return
    sys.stdout.write(built.text)
    sys.stdout.flush()
    diagnostics.print(
        f"\n[dim]-- {built.prompt_tokens} prompt tokens of {built.token_budget} available; "
        f"dropped {built.dropped_messages} oldest message(s)[/]"
    )
    for recalled in built.memories:
        diagnostics.print(f"[dim]-- memory {recalled.score:.3f}: {escape(recalled.text)}[/]")
    for entry in built.lore:
        diagnostics.print(
            f"[dim]-- lore {escape(entry.name)} ({escape(entry.reason)}): "
            f"{escape(_shorten(entry.content))}[/]"
        )
    if built.dropped_lore:
        diagnostics.print(
            f"[dim]-- lore: {built.dropped_lore} entry(s) dropped to fit the budget[/]"
        )
    for note in _lore_notes(conversation):
        diagnostics.print(f"[dim]-- lore: {escape(note)}[/]")
    if prepared.mood:
        top = sorted(prepared.mood.items(), key=lambda item: -item[1])[:3]
        diagnostics.print("[dim]-- mood: " + ", ".join(f"{k} {v:.2f}" for k, v in top) + "[/]")
    for line in _describe_controls(prepared.controls):
        diagnostics.print(f"[dim]-- {escape(line)}[/]")


def _describe_controls(controls: dict[str, Any]) -> list[str]:
    """The controller's record in a few readable lines (the JSON output has all of it)."""
    if not controls:
        return []
    if not controls.get("enabled", True):
        return ["controller: off (--no-steer)"]
    steering = controls.get("steering", {})
    strengths = steering.get("strengths", {})
    lines = []
    if strengths:
        listed = ", ".join(f"{name} {value:+.2f}" for name, value in strengths.items())
        layers = ", ".join(str(layer) for layer in steering.get("layers", []))
        lines.append(f"steering: {listed} (layers {layers})")
    decoding = {k: v for k, v in controls.get("decoding", {}).items() if v}
    if decoding:
        lines.append("decoding: " + json.dumps(decoding))
    lines.extend(str(note) for note in controls.get("notes", []))
    return lines


def _lore_notes(conversation: Conversation) -> list[str]:
    """What the lorebook scanner left out this turn (budget, slow regexes), if it says."""
    notes = getattr(conversation.lore, "notes", None)
    return [str(note) for note in notes] if isinstance(notes, list) else []


def _shorten(text: str, limit: int = 100) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
