"""`roleplay chat`: a streaming terminal chat (interactive) or one reply (`--once`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.application import describe_engine
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
    OrderOption,
    PersonaOption,
    ProfileOption,
    PromptLayoutOption,
    RememberOption,
    SteeringSourceOption,
    SteerOption,
    ThreadsOption,
    UserNameOption,
    backend_options,
    card_paths,
    check_session,
    feature_options,
    lorebook_names,
    prompt_layout,
    user_identity,
)
from roleplay.cli.runtime import RuntimeOptions, load_cli_pipeline
from roleplay.engine.base import DEFAULT_GENERATION, BackendError
from roleplay.errors import RoleplayError
from roleplay.pipeline import ChatPipeline, Conversation, PersonaInfo, ReplyStream
from roleplay.sessions import Message

console = Console(highlight=False)

HELP_TEXT = """Commands:
  /regen      a new reply for the last turn (the old one is kept as a swipe)
  /swipe N    show kept alternative N of the last reply
  /history    the conversation so far
  /persona N  play as saved persona N from now on
  /help       this text
  /quit       leave (the session is saved; resume with --session ID)
Ctrl+C while the character is talking stops that reply and keeps the session."""


def open_conversation(
    pipeline: ChatPipeline,
    character: Path | None,
    session_id: str | None,
    user_name: str,
    persona: PersonaInfo | None = None,
) -> Conversation:
    if session_id:
        return pipeline.resume(session_id)
    assert character is not None
    return pipeline.start(character, user_name=user_name, persona=persona)


def chat_command(
    character: str = CharacterOption,
    once: str | None = typer.Option(
        None, "--once", help="Send one message, print the reply, exit."
    ),
    json_output: bool = typer.Option(False, "--json", help="With --once: print a JSON object."),
    session: str | None = typer.Option(None, "--session", "-s", help="Continue a saved session."),
    model: str | None = ModelOption,
    backend: str = BackendOption,
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    layout: str = PromptLayoutOption,
    seed: int | None = typer.Option(None, "--seed", help="Random seed for reproducible replies."),
    user_name: str | None = UserNameOption,
    persona: str | None = PersonaOption,
    order: str = OrderOption,
    max_new_tokens: int = typer.Option(
        DEFAULT_GENERATION.max_new_tokens, "--max-new-tokens", min=1, max=4096
    ),
    temperature: float = typer.Option(
        DEFAULT_GENERATION.temperature, "--temperature", min=0.0, max=5.0
    ),
    context_window: int | None = ContextWindowOption,
    lorebook: list[str] | None = LorebookOption,
    memory: bool = MemoryOption,
    remember: bool = RememberOption,
    chroma_url: str | None = ChromaUrlOption,
    steer: str | None = SteerOption,
    no_steer: bool = NoSteerOption,
    steering_source: str | None = SteeringSourceOption,
    profile: bool = ProfileOption,
) -> None:
    """Chat with a character, or several (-c mira,sable,pip)."""
    options = RuntimeOptions(
        backend=backend_options(backend, model, base_url, api_key, threads, context_window),
        prompt_layout=prompt_layout(layout),
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        seed=seed,
        features=feature_options(
            memory, chroma_url, steer, no_steer, steering_source, profile, remember
        ),
        lorebooks=lorebook_names(lorebook),
    )
    # Check the cards or the session before loading the model: a typo should fail in
    # milliseconds, not after a ten-second load.
    name, persona_info = user_identity(user_name, persona)
    group = check_session(session) if session else "," in character
    resolved = [] if session else card_paths(character)
    if group:
        from roleplay.groups.speakers import check_order

        check_order(order)
    # An interactive chat shows the prompt while memory and steering load behind it.
    pipeline = load_cli_pipeline(options, quiet=json_output, background_parts=once is None)
    if group:
        _group_chat(pipeline, resolved, session, name, persona_info, order, once, seed, json_output)
        return
    conversation = open_conversation(
        pipeline, resolved[0] if resolved else None, session, name, persona_info
    )
    if once is not None:
        _reply_once(conversation, once, seed, json_output)
        return
    _interactive(conversation, seed)


def _group_chat(
    pipeline: ChatPipeline,
    cards: list[Path],
    session: str | None,
    user_name: str,
    persona: PersonaInfo | None,
    order: str,
    once: str | None,
    seed: int | None,
    json_output: bool,
) -> None:
    from roleplay.cli import group_chat
    from roleplay.groups.scene import resume_group, start_group

    rng = group_chat.group_rng(seed)
    scene = (
        resume_group(pipeline, session, rng=rng)
        if session
        else start_group(
            pipeline, cards, user_name=user_name, persona=persona, order=order, rng=rng
        )
    )
    if once is None:
        group_chat.interactive(scene, seed)
    elif json_output:
        group_chat.reply_once_json(scene, once, seed)
    else:
        group_chat.reply_once(scene, once, seed)


def _reply_once(conversation: Conversation, message: str, seed: int | None, as_json: bool) -> None:
    stream = conversation.send(message, seed=seed)
    if as_json:
        reply = stream.text()
        stats = stream.stats
        record = {
            "session": conversation.session.id,
            "reply": reply.strip(),
            "tokens": stats.new_tokens,
            "seconds": round(stats.seconds, 4),
            "ttft": round(stats.ttft, 4),
            **describe_engine(conversation.pipeline.engine),
            "steering": steering_summary(stream.prepared.controls),
        }
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        return
    _render_stream(conversation, stream)
    console.print(f"[dim]session {conversation.session.id}[/]")


def steering_summary(controls: dict[str, Any]) -> dict[str, Any]:
    """The attributes applied and how (control_vectors, hooks, prompt or none)."""
    steering = controls.get("steering", {}) if controls else {}
    return {
        "method": steering.get("method", "none") if controls.get("enabled", False) else "none",
        "attributes": steering.get("strengths", {}) or steering.get("requested", {}),
    }


def _print_turn(name: str, text: str, *, style: str, interrupted: bool = False) -> None:
    console.print(f"[{style}]{escape(name)}:[/] {escape(text)}{_mark(interrupted)}")


def _mark(interrupted: bool) -> str:
    # The same note as a reply stopped with Ctrl+C gets while it streams.
    return " [dim](interrupted)[/]" if interrupted else ""


def _interrupted(message: Message) -> bool:
    return bool(message.metadata.get("interrupted"))


def print_stream(name: str, style: str, stream: ReplyStream) -> bool:
    """Print a reply as it streams after its speaker's name; Ctrl+C stops it and keeps what
    was said (False then)."""
    console.print(f"[{style}]{escape(name)}:[/] ", end="")
    pieces: Iterator[str] = iter(stream)
    try:
        for piece in pieces:
            sys.stdout.write(piece)
            sys.stdout.flush()
    except KeyboardInterrupt:
        close = getattr(pieces, "close", None)
        if close is not None:
            close()  # lets the stream store the partial reply now, not at garbage collection
        console.print(_mark(True))
        return False
    sys.stdout.write("\n")
    return True


def _render_stream(conversation: Conversation, stream: ReplyStream) -> None:
    """Print the reply as it streams, then its speed."""
    if not print_stream(conversation.card.name, "bold magenta", stream):
        return
    stats = stream.stats
    console.print(
        f"[dim]{stats.new_tokens} tokens, {stats.tokens_per_second:.1f} tok/s[/]", justify="right"
    )


def _show_history(conversation: Conversation) -> None:
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("#", justify="right")
    table.add_column("who")
    table.add_column("message")
    table.add_column("swipes", justify="right")
    for position, message in enumerate(conversation.messages(), start=1):
        who = (
            conversation.card.name
            if message.role == "assistant"
            else conversation.session.user_name
        )
        alternatives = (
            len(conversation.store.siblings(message.id)) if message.role == "assistant" else 1
        )
        text = escape(message.content) + _mark(_interrupted(message))
        table.add_row(str(position), escape(who), text, str(alternatives))
    console.print(table)


def _handle_command(conversation: Conversation, line: str, seed: int | None) -> bool:
    """Run a slash command; return False when the chat should end."""
    command, _, argument = line.strip().partition(" ")
    if command in ("/quit", "/exit", "/q"):
        return False
    if command == "/help":
        console.print(HELP_TEXT)
    elif command == "/history":
        _show_history(conversation)
    elif command == "/persona":
        from roleplay.personas.store import get_persona

        persona = get_persona(argument.strip())
        conversation.use_persona(persona.name, persona.description, persona_id=persona.name)
        console.print(f"[dim]you are now {escape(persona.name)}[/]")
    elif command == "/regen":
        _render_stream(conversation, conversation.regenerate(seed=seed))
    elif command == "/swipe":
        if not argument.strip().isdigit():
            raise RoleplayError("usage: /swipe N (N = 1 for the first kept reply)")
        chosen = conversation.swipe(int(argument))
        total = len(conversation.swipes(chosen.id))
        console.print(f"[dim]swipe {argument.strip()}/{total}[/]")
        _print_turn(conversation.card.name, chosen.content, style="bold magenta")
    else:
        raise RoleplayError(f"unknown command {command}; type /help")
    return True


def _interactive(conversation: Conversation, seed: int | None) -> None:
    card = conversation.card
    console.print(
        f"[bold]{escape(card.name)}[/] "
        f"[dim]- session {conversation.session.id} - /help for commands[/]"
    )
    for message in conversation.messages()[-6:]:
        if message.role == "assistant":
            _print_turn(
                card.name,
                message.content,
                style="bold magenta",
                interrupted=_interrupted(message),
            )
        elif message.role == "user":
            _print_turn(conversation.session.user_name, message.content, style="bold cyan")
    while True:
        try:
            line = console.input(f"[bold cyan]{escape(conversation.session.user_name)}:[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        if not line.strip():
            continue
        try:
            if line.startswith("/"):
                if not _handle_command(conversation, line, seed):
                    break
                continue
            _render_stream(conversation, conversation.send(line, seed=seed))
        except (RoleplayError, BackendError) as error:
            # The session keeps the user's message; /regen or a new message continues.
            console.print(f"[red]error:[/] {escape(error.message)}")
    console.print(f"[dim]Saved. Resume with: roleplay chat --session {conversation.session.id}[/]")
