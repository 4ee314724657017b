"""`roleplay tui` (registered through the ``roleplay.commands`` entry point) and
`python -m tui`.

Only typer (and the shared option declarations) are imported at module level, so the first
frame comes fast: Textual is imported inside the command, and torch much later, on the
pipeline thread.
"""

from __future__ import annotations

import sys

import typer

from roleplay.cli.options import (
    ApiKeyOption,
    BackendOption,
    BaseUrlOption,
    ChromaUrlOption,
    LorebookOption,
    MemoryOption,
    ModelOption,
    NoSteerOption,
    OrderOption,
    PersonaOption,
    SteerOption,
    ThreadsOption,
    UserNameOption,
)


def tui_command(
    character: str | None = typer.Option(
        None,
        "--character",
        "-c",
        help="Open a new chat with this character at once (name or card path); several, "
        "comma-separated, open a group scene (-c mira,sable,pip).",
    ),
    session: str | None = typer.Option(
        None, "--session", "-s", help="Resume this saved session at once."
    ),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    user: str | None = UserNameOption,
    persona: str | None = PersonaOption,
    order: str = OrderOption,
    memory: bool = MemoryOption,
    chroma_url: str | None = ChromaUrlOption,
    steer: str | None = SteerOption,
    no_steer: bool = NoSteerOption,
    lorebook: list[str] | None = LorebookOption,
) -> None:
    """The full-screen chat app. Characters, sessions, swipes, mood, memories and steering."""
    if character and "," in character:
        _check_group(character, order)  # as `roleplay chat -c a,b` checks it, before the model
    if steer:
        _check_steer(steer)  # a usage error: say so now, not after loading the model
    _check_backend(backend, model, base_url)
    lorebooks = _check_lorebooks(lorebook)
    user_name, persona_description, persona_id = _check_identity(user, persona)

    from tui.app import LaunchOptions, RoleplayApp

    options = LaunchOptions(
        character=character,
        session=session,
        order=order,
        model=model,
        backend=backend,
        base_url=base_url,
        api_key=api_key,
        threads=threads,
        user_name=user_name,
        persona_description=persona_description,
        persona_id=persona_id,
        memory=memory,
        chroma_url=chroma_url,
        steer=steer,
        steering=not no_steer,
        lorebooks=lorebooks,
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


def _check_group(references: str, order: str) -> None:
    """A group scene's cards (each known, parsed and named once) and speaker order."""
    from roleplay.cli.options import card_paths
    from roleplay.errors import RoleplayError
    from roleplay.groups.speakers import check_order

    try:
        card_paths(references)
        check_order(order)
    except RoleplayError as error:  # an unknown or repeated name, an empty item
        sys.stderr.write(f"error: {error.message}\n")
        raise typer.Exit(error.exit_code) from None


def _check_lorebooks(values: list[str] | None) -> tuple[str, ...]:
    if not values:
        return ()
    from roleplay.cli.options import lorebook_names
    from roleplay.errors import RoleplayError

    try:
        return lorebook_names(values)
    except RoleplayError as error:  # an unknown name: say so now, not in the app
        sys.stderr.write(f"error: {error.message}\n")
        raise typer.Exit(error.exit_code) from None


def _check_identity(user: str | None, persona: str | None) -> tuple[str, str, str | None]:
    """Who the user is (--user, --persona or the active persona), the persona's text and
    its id (None without a persona)."""
    from roleplay.cli.options import user_identity
    from roleplay.errors import RoleplayError

    try:
        name, info = user_identity(user, persona)
    except RoleplayError as error:  # an unknown persona: say so now, not in the app
        sys.stderr.write(f"error: {error.message}\n")
        raise typer.Exit(error.exit_code) from None
    if info is None:
        return name, "", None
    return name, info.description, info.persona_id


def _check_backend(backend: str, model: str | None, base_url: str | None) -> None:
    from roleplay.application import BackendOptions, resolve_backend
    from roleplay.errors import RoleplayError

    try:
        resolve_backend(BackendOptions(backend=backend, model=model, base_url=base_url))
    except RoleplayError as error:
        sys.stderr.write(f"error: {error.message}\n")
        raise typer.Exit(error.exit_code) from None


def main() -> None:
    typer.run(tui_command)
