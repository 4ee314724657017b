"""Builds the pipeline for a CLI command: engine, session store and optional parts."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field

from rich.console import Console

from roleplay.engine.base import GenerationSettings
from roleplay.features import FeatureOptions, ToxicityFlag, control_factory, memory_factory
from roleplay.paths import configure_library_caches, sessions_db_path
from roleplay.pipeline import ChatPipeline
from roleplay.prompting.lorebook import make_lore_factory
from roleplay.sessions import SessionStore

status_console = Console(stderr=True)


@dataclass
class RuntimeOptions:
    model: str | None = None
    context_window: int | None = None
    max_new_tokens: int = 160
    temperature: float = 0.8
    seed: int | None = None
    features: FeatureOptions = field(default_factory=FeatureOptions)


def open_store() -> SessionStore:
    configure_library_caches()
    return SessionStore(sessions_db_path())


def build_pipeline(options: RuntimeOptions, *, quiet: bool = False) -> ChatPipeline:
    configure_library_caches()
    from roleplay.engine.transformers_engine import TransformersEngine

    def report(message: str) -> None:
        if not quiet:
            status_console.print(f"[dim]{message}[/]")

    spinner = status_console.status("Loading the model...", spinner="dots")
    with spinner if not quiet and sys.stderr.isatty() else contextlib.nullcontext():
        engine = TransformersEngine.load(
            options.model, status=report, context_window=options.context_window
        )
    settings = GenerationSettings(
        max_new_tokens=options.max_new_tokens,
        temperature=options.temperature,
        seed=options.seed,
    )
    return ChatPipeline(
        engine,
        open_store(),
        settings=settings,
        # Lore budgets are counted with the model's own tokenizer.
        lore_factory=make_lore_factory(engine.count_tokens),
        memory_factory=memory_factory(options.features),
        control_factory=control_factory(engine.loaded, options.features),
        safety=ToxicityFlag() if options.features.toxicity else None,
    )
