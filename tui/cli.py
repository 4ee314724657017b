"""`roleplay tui` (registered through the ``roleplay.commands`` entry point) and
`python -m tui`.

Only typer is imported at module level: the core CLI loads this module for every
`roleplay` command, so Textual (and torch, much later, on the pipeline thread) are imported
inside the command.
"""

from __future__ import annotations

import sys

import typer

# The feature flags are the same as `roleplay chat`'s (roleplay/cli/options.py). They are
# declared again here because importing that module reads the card model (pydantic), which
# `python -m tui` would otherwise pay for before its first frame.
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


def tui_command(
    character: str | None = typer.Option(
        None,
        "--character",
        "-c",
        help="Open a new chat with this character at once (name or card path).",
    ),
    session: str | None = typer.Option(
        None, "--session", "-s", help="Resume this saved session at once."
    ),
    model: str | None = typer.Option(
        None,
        "--model",
        "-m",
        help="Hugging Face model id, local folder or .gguf file (default: embedded SmolLM2).",
    ),
    user: str = typer.Option("User", "--user", help="Your name in the role-play ({{user}})."),
    memory: bool = MemoryOption,
    chroma_url: str | None = ChromaUrlOption,
    steer: str | None = SteerOption,
    no_steer: bool = NoSteerOption,
) -> None:
    """Full-screen chat: characters, sessions, swipes, mood, memories and steering."""
    if steer:
        _check_steer(steer)  # a usage error: say so now, not after loading the model

    from tui.app import LaunchOptions, RoleplayApp

    options = LaunchOptions(
        character=character,
        session=session,
        model=model,
        user_name=user,
        memory=memory,
        chroma_url=chroma_url,
        steer=steer,
        steering=not no_steer,
    )
    app = RoleplayApp(options)
    last_session = app.run()
    if last_session:
        sys.stdout.write(f"Saved. Resume with: roleplay tui --session {last_session}\n")
    if app.return_code:
        raise typer.Exit(app.return_code)


def _check_steer(steer: str) -> None:
    from roleplay.errors import RoleplayError
    from roleplay.features import parse_steer_option

    try:
        parse_steer_option(steer)
    except RoleplayError as error:  # e.g. an unknown attribute
        sys.stderr.write(f"error: {error.message}\n")
        raise typer.Exit(error.exit_code) from None


def main() -> None:
    typer.run(tui_command)
