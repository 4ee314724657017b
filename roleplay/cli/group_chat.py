"""`roleplay chat -c mira,sable,pip`: a group scene in the terminal (or one round, `--once`).

Every line goes through the scene's echo guard (``roleplay.groups.echo``) with the measure
and settings of ``roleplay generate scene`` (``echo_guard`` in dialogue.yaml; ``retries: 0``
turns the retries off): a rejected attempt is shown with a dim note, the next one streams on
a fresh line, and the line read last is the one kept."""

from __future__ import annotations

import json
import random
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from roleplay.application import describe_engine
from roleplay.cli.options import card_path
from roleplay.engine.base import BackendError
from roleplay.errors import RoleplayError
from roleplay.groups.echo import (
    AttemptRejected,
    AttemptStarted,
    AttemptText,
    EchoGuard,
    GuardedReply,
    ReplyKept,
)
from roleplay.groups.scene import GroupConversation
from roleplay.pipeline import PersonaInfo
from roleplay.sessions import Message

console = Console(highlight=False)

HELP_TEXT = """Commands:
  /as NAME      NAME speaks now
  /join NAME    bring a character into the scene (a card name from `roleplay characters`)
  /leave NAME   NAME leaves (it remembers nothing said while it is away)
  /mute NAME    NAME stays but never speaks on its own (/unmute NAME)
  /order MODE   who speaks next: natural, round-robin or manual
  /regen        a new version of the last character line (kept as a swipe)
  /swipe N      show kept alternative N of the last character line
  /persona NAME play as a saved persona from now on
  /who          who is in the scene
  /history      the scene so far
  /quit         leave (the session is saved; resume with --session ID)
An empty line lets the next speaker talk without a message from you."""

SPEAKER_STYLES = ("bold magenta", "bold green", "bold yellow", "bold blue", "bold red")


def group_rng(seed: int | None) -> random.Random:
    """The speaker choice's random numbers: reproducible with --seed."""
    return random.Random(seed)


def echo_guard() -> EchoGuard:
    """The echo guard of `roleplay generate scene`: its measure and dialogue.yaml's settings."""
    from roleplay.dialogue.repetition import echo_overlap
    from roleplay.dialogue.settings import load_dialogue_settings

    settings = load_dialogue_settings().echo_guard
    return EchoGuard(echo_overlap, settings.ngram, settings.max_overlap, settings.retries)


def _guard(scene: GroupConversation) -> None:
    """A scene opened without an echo guard gets the scene runner's."""
    if scene.echo_guard is None:
        scene.echo_guard = echo_guard()


def reply_once_json(scene: GroupConversation, message: str, seed: int | None) -> None:
    """`--once MSG --json`: the chosen speakers answer; one JSON object with `replies`
    (`retries`: the attempts the echo guard rejected before the kept one)."""
    _guard(scene)
    scene.send(message)
    replies: list[dict[str, Any]] = []
    for name in scene.next_speakers():
        stream = scene.reply(name, seed=seed)
        stream.text()
        result = stream.result
        stored = result.message if result is not None else None
        stats = stream.stats
        replies.append(
            {
                "speaker": name,
                "text": stored.content if stored is not None else "",
                "tokens": stats.new_tokens,
                "seconds": round(stats.seconds, 4),
                "retries": stream.retries,
            }
        )
    record = {
        "session": scene.session.id,
        "replies": replies,
        **describe_engine(scene.pipeline.engine),
    }
    sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")


def reply_once(scene: GroupConversation, message: str, seed: int | None) -> None:
    _guard(scene)
    scene.send(message)
    _answer(scene, seed)
    console.print(f"[dim]session {scene.session.id}[/]")


def _style(scene: GroupConversation, name: str) -> str:
    names = scene.names
    return SPEAKER_STYLES[names.index(name) % len(SPEAKER_STYLES)] if name in names else "bold"


def _render(scene: GroupConversation, name: str, stream: GuardedReply) -> bool:
    """Print one character's line as it streams, each attempt the echo guard rejects with a
    note and the next on a fresh line; Ctrl+C stops it and keeps what was said (False)."""
    label = f"[{_style(scene, name)}]{escape(name)}:[/] "
    events = stream.events()
    try:
        for event in events:
            if isinstance(event, AttemptStarted):
                console.print(label, end="")
            elif isinstance(event, AttemptText):
                sys.stdout.write(event.text)
                sys.stdout.flush()
            elif isinstance(event, AttemptRejected):
                console.print(f" [dim](repeats {event.overlap:.0%} of earlier lines; again)[/]")
            elif isinstance(event, ReplyKept):
                sys.stdout.write("\n")
                if event.attempt != event.attempts - 1 and event.result.message is not None:
                    # The last try was worse: end with the line that was kept.
                    console.print(
                        f"[dim](keeping try {event.attempt + 1}, the least repetitive)[/]"
                    )
                    console.print(label + escape(event.result.message.content))
    except KeyboardInterrupt:
        close = getattr(events, "close", None)
        if close is not None:
            close()  # lets the stream store the partial reply now, not at garbage collection
        console.print(" [dim](interrupted)[/]")
        return False
    return True


def _answer(scene: GroupConversation, seed: int | None) -> None:
    """Every chosen next speaker answers in turn (none in manual order)."""
    speakers = scene.next_speakers()
    if not speakers and scene.state.order == "manual":
        console.print("[dim]manual order: choose who speaks with /as NAME[/]")
    for name in speakers:
        if not _render(scene, name, scene.reply(name, seed=seed)):
            return


def _who(scene: GroupConversation) -> None:
    parts = []
    for name in scene.names:
        if name not in scene.state.present:
            parts.append(f"[dim]{escape(name)} (away)[/]")
        elif name in scene.state.muted:
            parts.append(f"{escape(name)} [dim](muted)[/]")
        else:
            parts.append(f"[{_style(scene, name)}]{escape(name)}[/]")
    console.print(f"{', '.join(parts)} [dim]- order: {scene.state.order}[/]")


def _who_said(scene: GroupConversation, message: Message) -> str:
    if message.role == "user":
        return scene.session.user_name
    if message.role == "assistant":
        return str(message.metadata.get("speaker", "?"))
    return "-"


def _history(scene: GroupConversation) -> None:
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("#", justify="right")
    table.add_column("who")
    table.add_column("message")
    for position, message in enumerate(scene.messages(), start=1):
        text = escape(message.content)
        if message.role == "system":
            text = f"[dim]{text}[/]"
        table.add_row(str(position), escape(_who_said(scene, message)), text)
    console.print(table)


def _persona(scene: GroupConversation, name: str) -> None:
    from roleplay.personas.store import get_persona

    persona = get_persona(name)
    scene.use_persona(PersonaInfo(persona.name, persona.description, persona_id=persona.name))
    console.print(f"[dim]you are now {escape(persona.name)}[/]")


def _command(scene: GroupConversation, line: str, seed: int | None) -> bool:
    """Run a slash command; False when the chat should end."""
    command, _, argument = line.strip().partition(" ")
    argument = argument.strip()
    needs_name = ("/as", "/join", "/leave", "/mute", "/unmute", "/order", "/persona")
    if command in needs_name and not argument:
        raise RoleplayError(f"usage: {command} NAME")
    if command in ("/quit", "/exit", "/q"):
        return False
    if command == "/help":
        console.print(HELP_TEXT)
    elif command == "/as":
        name = scene.resolve(argument)
        _render(scene, name, scene.reply(name, seed=seed))
    elif command == "/join":
        joined = scene.join(card_path(argument))
        console.print(f"[dim]{escape(joined)} joins the scene[/]")
    elif command == "/leave":
        console.print(f"[dim]{escape(scene.leave(argument))} leaves the scene[/]")
    elif command in ("/mute", "/unmute"):
        name = scene.mute(argument, muted=command == "/mute")
        console.print(f"[dim]{escape(name)} {command[1:]}d[/]")
    elif command == "/order":
        scene.set_order(argument)
        console.print(f"[dim]order: {scene.state.order}[/]")
    elif command == "/regen":
        name = str(scene.line().metadata.get("speaker"))
        _render(scene, name, scene.regenerate(seed=seed))
    elif command == "/swipe":
        if not argument.isdigit():
            raise RoleplayError("usage: /swipe N (N = 1 for the first kept line)")
        chosen = scene.swipe(int(argument))
        total = len(scene.swipes(chosen.id))
        name = str(chosen.metadata.get("speaker"))
        console.print(f"[dim]swipe {argument}/{total}[/]")
        console.print(f"[{_style(scene, name)}]{escape(name)}:[/] {escape(chosen.content)}")
    elif command == "/persona":
        _persona(scene, argument)
    elif command == "/who":
        _who(scene)
    elif command == "/history":
        _history(scene)
    else:
        raise RoleplayError(f"unknown command {command}; type /help")
    return True


def interactive(scene: GroupConversation, seed: int | None) -> None:
    _guard(scene)
    _who(scene)
    console.print(f"[dim]session {scene.session.id} - /help for commands[/]")
    for message in scene.messages()[-6:]:
        if message.role == "system":
            console.print(f"[dim]{escape(message.content)}[/]")
            continue
        who = _who_said(scene, message)
        style = "bold cyan" if message.role == "user" else _style(scene, who)
        console.print(f"[{style}]{escape(who)}:[/] {escape(message.content)}")
    while True:
        try:
            line = console.input(f"[bold cyan]{escape(scene.session.user_name)}:[/] ")
        except (EOFError, KeyboardInterrupt):
            console.print()
            break
        try:
            if line.startswith("/"):
                if not _command(scene, line, seed):
                    break
                continue
            if line.strip():
                scene.send(line)
            _answer(scene, seed)
        except (RoleplayError, BackendError) as error:
            console.print(f"[red]error:[/] {escape(error.message)}")
    console.print(f"[dim]Saved. Resume with: roleplay chat --session {scene.session.id}[/]")
