"""Options shared by several commands (the TUI's too), and the parsers behind them.

Only typer is imported at module level: `roleplay tui` declares its options from here
before its first frame, so the card model and the pipeline are imported when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from roleplay.features import FeatureOptions

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
    from roleplay.cards.registry import resolve_card

    return resolve_card(reference)


MemoryOption = typer.Option(
    True, "--memory/--no-memory", help="Recall and store long-term memories (ChromaDB)."
)
ChromaUrlOption = typer.Option(
    None, "--chroma-url", help="Use a Chroma server (e.g. http://127.0.0.1:8000) for memories."
)
SteerOption = typer.Option(
    None, "--steer", help="Steering overrides, e.g. extraversion=+1.0,sentiment=-0.5."
)
NoSteerOption = typer.Option(
    False, "--no-steer", help="Switch the latent-attribute controller off."
)


def feature_options(
    memory: bool, chroma_url: str | None, steer: str | None, no_steer: bool
) -> FeatureOptions:
    from roleplay.features import FeatureOptions, parse_steer_option

    return FeatureOptions(
        memory=memory,
        chroma_url=chroma_url,
        steering=not no_steer,
        steer_overrides=parse_steer_option(steer),
    )
