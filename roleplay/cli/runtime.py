"""The CLI's way into the application layer: a spinner and status lines around loading."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from rich.console import Console

from roleplay.application import BackendOptions, RuntimeOptions, build_pipeline, load_engine
from roleplay.pipeline import ChatPipeline

status_console = Console(stderr=True)

__all__ = ["BackendOptions", "RuntimeOptions", "load_cli_engine", "load_cli_pipeline"]


def _reporter(quiet: bool) -> Any:
    def report(message: str) -> None:
        if not quiet:
            status_console.print(f"[dim]{message}[/]")

    return report


def _spinner(quiet: bool) -> Any:
    if quiet or not sys.stderr.isatty():
        return contextlib.nullcontext()
    return status_console.status("Loading the model...", spinner="dots")


def load_cli_pipeline(
    options: RuntimeOptions, *, quiet: bool = False, background_parts: bool = False
) -> ChatPipeline:
    with _spinner(quiet):
        engine = load_engine(options.backend, status=_reporter(quiet))
    return build_pipeline(
        options, engine=engine, background_parts=background_parts, status=_reporter(quiet)
    )


def load_cli_engine(options: BackendOptions, *, quiet: bool = False) -> Any:
    with _spinner(quiet):
        return load_engine(options, status=_reporter(quiet))
