"""Options shared by several commands (the TUI's too), and the parsers behind them.

Only typer is imported at module level: `roleplay tui` declares its options from here
before its first frame, so the card model and the pipeline are imported when used.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from roleplay.application import BackendOptions
    from roleplay.features import FeatureOptions
    from roleplay.pipeline import PersonaInfo
    from roleplay.prompting.builder import PromptLayout

CharacterOption = typer.Option(
    "mira",
    "--character",
    "-c",
    help="A slug or name from `roleplay characters` (any unambiguous prefix will do), "
    "or a card file.",
)
ModelOption = typer.Option(
    None,
    "--model",
    "-m",
    help=".gguf file, Hugging Face folder or id, or a server's model name "
    "(default: embedded SmolLM2).",
)
BackendOption = typer.Option(
    "auto",
    "--backend",
    help="auto, llama.cpp, transformers or openai (auto: openai with --base-url, "
    "llama.cpp for .gguf files, transformers for Hugging Face models).",
)
BaseUrlOption = typer.Option(
    None, "--base-url", help="An OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1."
)
ApiKeyOption = typer.Option(
    None,
    "--api-key",
    help="The server's API key (default: $ROLEPLAY_API_KEY, then $OPENAI_API_KEY).",
)
PromptLayoutOption = typer.Option(
    "system",
    "--prompt-layout",
    help="Where recalled memories and lore go: system (in the system block) or turn (just "
    "before your message, so the cached conversation is reused: faster replies in long chats).",
)
ThreadsOption = typer.Option(
    None, "--threads", min=1, help="CPU threads (default: the cores other processes leave)."
)
UserNameOption = typer.Option(
    None,
    "--user",
    help="Your name in the role-play ({{user}}; default: the active persona's, else User).",
)
ContextWindowOption = typer.Option(
    None, "--context-window", help="Tokens of context to use (default 2048, capped by the model)."
)


LorebookOption = typer.Option(
    None,
    "--lorebook",
    help="Imported lorebooks to use with the card's own (`roleplay lorebook list`); "
    "repeat it or separate names with commas.",
)


PersonaOption = typer.Option(
    None,
    "--persona",
    help="Play as a saved persona (`roleplay persona list`; default: the active one, else --user).",
)
OrderOption = typer.Option(
    "natural",
    "--order",
    help="Group chats: who speaks next: natural (named first, then by talkativeness), "
    "round-robin or manual (/as NAME).",
)
ProfileOption = typer.Option(
    True,
    "--profile/--no-profile",
    help="Let the character learn facts you state about yourself (`roleplay profile`).",
)


def user_identity(user: str | None, persona: str | None) -> tuple[str, PersonaInfo | None]:
    """Who the user is: ``--persona NAME``, else ``--user NAME``, else the active persona
    (``roleplay persona use``), else "User"."""
    from roleplay.errors import RoleplayError
    from roleplay.personas.store import resolve_persona
    from roleplay.pipeline import DEFAULT_USER_NAME, PersonaInfo

    if user is not None and persona is not None:
        raise RoleplayError("--user and --persona both name you; give one of them")
    if user is not None:
        if not user.strip():
            raise RoleplayError("--user must not be empty")
        return user, None
    chosen = resolve_persona(persona)
    if chosen is None:
        return DEFAULT_USER_NAME, None
    info = PersonaInfo(chosen.name, chosen.description, persona_id=chosen.name)
    return chosen.name, info


def card_paths(references: str) -> list[Path]:
    """``-c mira,sable,pip``: each card resolved and parsed now (see ``card_path``)."""
    from roleplay.errors import RoleplayError

    names = [name.strip() for name in references.split(",")]
    if any(not name for name in names):
        raise RoleplayError(f"--character {references!r}: an empty name between commas")
    paths = [card_path(name) for name in names]
    if len(paths) > 1:
        from roleplay.groups.scene import check_members

        check_members(paths)
    return paths


def card_path(reference: str) -> Path:
    """The card file ``reference`` names, resolved and parsed now: a typo or a broken card
    (say, tab-indented YAML) must fail in milliseconds, not after the model has loaded.
    The lorebooks the card names (``extensions.roleplay.lorebooks``) must exist too."""
    from roleplay.cards.loader import load_card
    from roleplay.cards.registry import resolve_card
    from roleplay.lorebooks.attach import card_lorebooks

    path = resolve_card(reference)
    card_lorebooks(load_card(path))
    return path


def lorebook_names(values: list[str] | None) -> tuple[str, ...]:
    """``--lorebook`` values as stored names, each found and parsed now (before any model)."""
    if not values:
        return ()
    from roleplay.lorebooks.attach import check_lorebooks

    return tuple(check_lorebooks(values))


def check_session(session_id: str) -> bool:
    """Fail now, before any model loads, when the session or its cards cannot be resumed;
    True for a group scene."""
    from roleplay.application import open_store
    from roleplay.groups.scene import group_cards, is_group_session
    from roleplay.pipeline import resumable_session

    store = open_store()
    try:
        session = store.get_session(session_id)
        if is_group_session(session):
            group_cards(session)
            return True
        resumable_session(store, session_id)
        return False
    finally:
        store.close()


MemoryOption = typer.Option(
    True, "--memory/--no-memory", help="Recall and store long-term memories (ChromaDB)."
)
RememberOption = typer.Option(
    True,
    "--remember/--no-remember",
    help="Write what the chat says to memory and your profile (--no-remember: recall "
    "only, so the same --seed gives the same reply again).",
)
ChromaUrlOption = typer.Option(
    None, "--chroma-url", help="Use a Chroma server (e.g. http://127.0.0.1:8000) for memories."
)
SteerOption = typer.Option(
    None, "--steer", help="Steering overrides, e.g. extraversion=+1.0,sentiment=-0.5."
)
SteeringSourceOption = typer.Option(
    None,
    "--steering-source",
    help="A Hugging Face folder of the same model to build steering vectors from "
    "(default: the model itself).",
)
NoSteerOption = typer.Option(
    False, "--no-steer", help="Switch the latent-attribute controller off."
)


def feature_options(
    memory: bool,
    chroma_url: str | None,
    steer: str | None,
    no_steer: bool,
    steering_source: str | None = None,
    profile: bool = True,
    remember: bool = True,
) -> FeatureOptions:
    from roleplay.features import FeatureOptions, parse_steer_option

    if steering_source is not None and not Path(steering_source).expanduser().is_dir():
        from roleplay.errors import RoleplayError

        raise RoleplayError(f"--steering-source {steering_source}: not a model folder")
    overrides = parse_steer_option(steer)
    warn_clipped_strengths(overrides)
    return FeatureOptions(
        memory=memory,
        remember=remember,
        chroma_url=chroma_url,
        steering=not no_steer,
        steer_overrides=overrides,
        steering_source=steering_source,
        profile=profile,
    )


def warn_clipped_strengths(overrides: dict[str, float]) -> None:
    """One warning line per --steer value beyond its fluency bound: the attribute's own bound
    for that sign where its file sets one (``max_strength:`` in the attribute's YAML), else
    steering.yaml's max_strength. The controller clips it anyway; saying so keeps
    ``extraversion=5`` from silently acting as 1."""
    if not overrides:
        return
    from roleplay.cli.errors import report_warning
    from roleplay.control.attributes import fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import clip_strength, strength_bound

    cap = load_config().max_strength
    specs = load_attributes()
    bounds = fluency_bounds(specs)
    for name, value in overrides.items():
        clipped = clip_strength(value, strength_bound(name, value, cap, bounds))
        if clipped == value:
            continue
        low, high = (strength_bound(name, sign, cap, bounds) for sign in (-1.0, 1.0))
        own = name in specs and min(low, high) < cap
        report_warning(
            f"--steer {name}={value:g} is outside "
            + (f"{name}'s fluency bound " if own else "")
            + f"-{low:g}..+{high:g}"
            + (f" (max_strength in {specs[name].source.name})" if own else "")
            + f"; clipped to {clipped:+g}"
        )


def backend_options(
    backend: str,
    model: str | None,
    base_url: str | None,
    api_key: str | None,
    threads: int | None,
    context_window: int | None = None,
) -> BackendOptions:
    """The backend options, checked now (a bad choice fails before anything loads)."""
    from roleplay.application import BackendOptions, resolve_backend

    options = BackendOptions(
        backend=backend,
        model=model,
        base_url=base_url,
        api_key=api_key,
        threads=threads,
        context_window=context_window,
    )
    resolve_backend(options)
    return options


def prompt_layout(value: str) -> PromptLayout:
    from roleplay.errors import RoleplayError
    from roleplay.prompting.builder import PROMPT_LAYOUTS

    if value not in PROMPT_LAYOUTS:
        raise RoleplayError(f"--prompt-layout {value!r}: use one of {', '.join(PROMPT_LAYOUTS)}")
    return value  # type: ignore[return-value]
