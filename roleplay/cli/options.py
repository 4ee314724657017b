"""Options shared by several commands, and the parsers behind them."""

from __future__ import annotations

from pathlib import Path

import typer

from roleplay.cards.registry import resolve_card

CharacterOption = typer.Option(
    "mira", "--character", "-c", help="Bundled or user card name, or a path to a card file."
)
ModelOption = typer.Option(
    None,
    "--model",
    "-m",
    help="Hugging Face model id, local folder or .gguf file (default: embedded SmolLM2).",
)
UserNameOption = typer.Option("User", "--user", help="Your name in the role-play ({{user}}).")
ContextWindowOption = typer.Option(
    None, "--context-window", help="Tokens of context to use (default 2048, capped by the model)."
)


def card_path(reference: str) -> Path:
    return resolve_card(reference)
