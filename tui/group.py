"""Group scenes in the TUI: ``GroupSession``, the counterpart of ``ChatSession`` for a
``GroupConversation`` (roleplay/groups/scene.py), and the slash commands the input box takes.

As in ``tui.backend``, every ``GroupSession`` method runs on the pipeline thread, calls the
scene and copies what it returns into ``ConversationView`` snapshots; nothing here decides
who speaks or what a character knows (the scene does, as in ``roleplay chat -c a,b``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from tui.backend import (
    ChatTarget,
    ConversationView,
    GroupView,
    Identity,
    MemberView,
    SteeringAdjuster,
    TurnOutcome,
    _up_to,
    message_views,
    play_stream,
    user_labels,
)

if TYPE_CHECKING:
    from roleplay.cards.model import Card
    from roleplay.groups.scene import GroupConversation
    from roleplay.pipeline import ChatPipeline, ReplyStream

ORDERS = ("natural", "round-robin", "manual")  # roleplay.groups.speakers.SPEAKER_ORDERS

COMMAND_HELP: tuple[tuple[str, str], ...] = (
    ("(empty line)", "the next speakers talk without a message from you"),
    ("/as NAME", "NAME speaks now (also a muted one); a click on the name does the same"),
    ("/join NAME", "a character joins (a card from `roleplay characters`), or comes back"),
    ("/leave NAME", "NAME leaves (it knows nothing said while it is away)"),
    ("/mute NAME", "NAME stays but does not speak on its own (/unmute NAME)"),
    ("/order MODE", "who speaks next: natural, round-robin or manual"),
    ("/regen", "a new version of the last character line (kept as a swipe)"),
    ("/swipe N", "show kept version N of the last character line"),
    ("/persona NAME", "play as a saved persona from your next message"),
    ("/who, /help, /quit", "who is in the scene; the keys; back to the characters"),
)
"""The commands a group scene's input box takes (the help screen lists them)."""

NEEDS_ARGUMENT = ("/as", "/join", "/leave", "/mute", "/unmute", "/order", "/persona", "/swipe")


@dataclass(frozen=True)
class Command:
    """A slash command typed in a group scene's input box."""

    name: str  # "as", "join", ... (without the slash)
    argument: str


def parse_command(line: str) -> Command:
    """``/as Mira`` -> Command("as", "Mira"); a usage error is a ``ValueError`` in words."""
    command, _, argument = line.strip().partition(" ")
    command, argument = command.lower(), argument.strip()
    if command in ("/q", "/exit"):
        command = "/quit"
    known = (*NEEDS_ARGUMENT, "/regen", "/who", "/history", "/help", "/quit")
    if command not in known:
        raise ValueError(f"unknown command {command}; /help lists them")
    if command in NEEDS_ARGUMENT and not argument:
        what = "N" if command == "/swipe" else "MODE" if command == "/order" else "NAME"
        raise ValueError(f"usage: {command} {what}")
    if command == "/swipe" and not argument.isdigit():
        raise ValueError("usage: /swipe N (N = 1 for the first kept line)")
    return Command(command[1:], argument)


class GroupSession:
    """One open group scene. Every method must run on the pipeline thread."""

    def __init__(self, scene: GroupConversation) -> None:
        self.scene = scene
        self._cards: dict[str, Card] = {}

    @property
    def session_id(self) -> str:
        return self.scene.session.id

    # Views ----------------------------------------------------------------------------------

    def _card(self, name: str) -> Card:
        """A member's card as written (read once; the scene keeps its own copy)."""
        if name not in self._cards:
            from roleplay.cards.loader import load_card

            record = next(m for m in self.scene.state.members if m.name == name)
            self._cards[name] = load_card(Path(record.card_ref))
        return self._cards[name]

    def group_view(self) -> GroupView:
        from roleplay.groups.speakers import talkativeness

        scene, state = self.scene, self.scene.state
        user_name = scene.session.user_name
        members = tuple(
            MemberView(
                name=name,
                card=self._card(name).substituted(user_name),
                present=name in state.present,
                muted=name in state.muted,
                talkativeness=talkativeness(self._card(name)),
            )
            for name in scene.names
        )
        next_up = None
        if state.order == "round-robin":  # certain (natural order draws lots)
            speakers = scene.next_speakers()
            next_up = speakers[0] if speakers else None
        return GroupView(members=members, order=state.order, next_up=next_up)

    def view(self) -> ConversationView:
        scene = self.scene
        branch = scene.messages()
        group = self.group_view()
        shown = next((m for m in group.members if m.present), group.members[0])
        engine = scene.pipeline.engine
        return ConversationView(
            session_id=scene.session.id,
            character=", ".join(scene.names),
            user_name=scene.session.user_name,
            model_id=engine.model_id,
            context_window=engine.context_window,
            card=shown.card,
            messages=message_views(branch, scene.swipes),
            user_names=user_labels(branch, scene.session),
            group=group,
        )

    # Turns ----------------------------------------------------------------------------------
    # A round: the user's message (or none), then each chosen speaker's line in turn. The
    # screen's worker asks for one speaker at a time, so a click can change who is next.

    def send(self, text: str) -> tuple[ConversationView, list[str]]:
        """Commit the user's message; the view, and who answers it (none in manual order)."""
        self.scene.send(text)
        return self.view(), self.scene.next_speakers()

    def next_speakers(self) -> tuple[ConversationView, list[str]]:
        """No message from the user: who talks next (an empty line, or ^R)."""
        return self.view(), self.scene.next_speakers()

    def edit(self, message_id: int, text: str) -> tuple[ConversationView, list[str]]:
        """A new version of one of the user's messages, on its own branch (the original and
        what followed stay in the store), and who answers it."""
        from roleplay.errors import RoleplayError

        store, session_id = self.scene.store, self.scene.session.id
        original = store.get_message(message_id)
        if original.role != "user" or original.session_id != session_id:
            raise RoleplayError(f"message {message_id} is not one of your messages here")
        if not text.strip():
            raise RoleplayError("the message is empty")
        store.set_head(session_id, original.parent_id)
        self.scene.refresh()
        return self.send(text)

    def reply(
        self, name: str, cancel: threading.Event, *, chosen: bool
    ) -> tuple[ReplyStream, ConversationView] | None:
        """``name`` speaks now: the stream and the view to show meanwhile. None when the
        order chose it but it left or was muted since (one the user chose speaks anyway)."""
        scene = self.scene
        key = scene.resolve(name)
        if not chosen and (key not in scene.state.present or key in scene.state.muted):
            return None
        stream = scene.reply(key, cancel=cancel)
        return stream, replace(self.view(), speaking=key)

    def regenerate(
        self, message_id: int | None, cancel: threading.Event
    ) -> tuple[ReplyStream, ConversationView]:
        """A new version of a character's line, by the same character (a swipe)."""
        before = self.view()
        speaker = str(self.scene.line(message_id).metadata.get("speaker"))
        stream = self.scene.regenerate(message_id, cancel=cancel)
        return stream, replace(_up_to(before, message_id), speaking=speaker)

    def swipe(self, message_id: int, index: int) -> ConversationView:
        self.scene.swipe(index, message_id)
        return self.view()

    def play(
        self,
        stream: ReplyStream,
        on_piece: Callable[[str], None],
        on_retry: Callable[[float], None] | None = None,
    ) -> TurnOutcome:
        """Stream one line; with the scene's echo guard (``roleplay.groups.echo``), an attempt
        that repeats the others is followed by another: ``on_retry(overlap)`` says so before
        the next attempt's pieces come."""
        events = getattr(stream, "events", None)
        if events is None:  # a plain ReplyStream: one attempt
            return play_stream(stream, on_piece, self.view)
        from roleplay.groups.echo import AttemptRejected, AttemptText

        def pieces() -> Iterator[str]:
            for event in events():
                if isinstance(event, AttemptText):
                    yield event.text
                elif isinstance(event, AttemptRejected) and on_retry is not None:
                    on_retry(event.overlap)

        return play_stream(stream, on_piece, self.view, pieces())

    # Scene changes --------------------------------------------------------------------------

    def resolve(self, name: str) -> str:
        return self.scene.resolve(name)

    def join(self, reference: str) -> tuple[ConversationView, str]:
        """A character joins: a card as ``roleplay characters`` names it, or a member who
        left (by its name in the scene, when its card is not one of those)."""
        from roleplay.cli.options import card_path
        from roleplay.errors import RoleplayError

        scene = self.scene
        try:
            path = card_path(reference)
        except RoleplayError:
            try:
                key = scene.resolve(reference)
            except RoleplayError:
                raise RoleplayError(
                    f"{reference!r} is neither a character (roleplay characters) "
                    "nor someone who left this scene"
                ) from None
            path = Path(next(m.card_ref for m in scene.state.members if m.name == key))
        name = scene.join(path)
        return self.view(), f"{name} joins the scene"

    def leave(self, name: str) -> tuple[ConversationView, str]:
        return self.view_after(f"{self.scene.leave(name)} leaves the scene")

    def mute(self, name: str, muted: bool) -> tuple[ConversationView, str]:
        key = self.scene.mute(name, muted=muted)
        return self.view_after(f"{key} is muted" if muted else f"{key} may speak again")

    def set_order(self, order: str) -> tuple[ConversationView, str]:
        self.scene.set_order(order)
        return self.view_after(f"order: {self.scene.state.order}")

    def view_after(self, note: str) -> tuple[ConversationView, str]:
        return self.view(), note

    def use_persona(self, identity: Identity) -> ConversationView:
        """Play ``identity`` from the next message on (``GroupConversation.use_persona``)."""
        from roleplay.pipeline import PersonaInfo

        self.scene.use_persona(
            PersonaInfo(identity.name, identity.description, persona_id=identity.persona_id)
        )
        return self.view()

    def set_strengths(
        self, adjuster: SteeringAdjuster, strengths: Mapping[str, float], speaker: str | None
    ) -> None:
        """Steering for one character (the one the side panel shows; else every present one)."""
        names = [speaker] if speaker else list(self.scene.state.present)
        for name in names:
            adjuster(self.scene.member(name), dict(strengths))


def open_group(pipeline: ChatPipeline, target: ChatTarget, identity: Identity) -> GroupSession:
    """Start a group scene with ``target.members``, or resume the saved one."""
    from roleplay.groups.scene import resume_group, start_group
    from roleplay.pipeline import PersonaInfo

    if target.session_id is not None:
        scene = resume_group(pipeline, target.session_id)
    else:
        persona = (
            PersonaInfo(identity.name, identity.description, persona_id=identity.persona_id)
            if identity.description or identity.persona_id is not None
            else None
        )
        scene = start_group(
            pipeline,
            list(target.members),
            user_name=identity.name,
            persona=persona,
            order=target.order,
        )
    _guard(scene)
    return GroupSession(scene)


def _guard(scene: GroupConversation) -> None:
    """The echo guard ``roleplay chat`` gives a scene (the scene runner's settings), when this
    version of the scene has one."""
    if hasattr(scene, "echo_guard") and scene.echo_guard is None:
        from roleplay.cli.group_chat import echo_guard

        scene.echo_guard = echo_guard()


def preview(
    cards: Mapping[str, Card],
    order: str,
    present: tuple[str, ...] | None = None,
    muted: tuple[str, ...] = (),
) -> GroupView:
    """The cast before the scene is open (the model still loading): from the cards alone."""
    from roleplay.groups.speakers import talkativeness

    here = tuple(cards) if present is None else present
    return GroupView(
        members=tuple(
            MemberView(
                name=name,
                card=card,
                present=name in here,
                muted=name in muted,
                talkativeness=talkativeness(card),
            )
            for name, card in cards.items()
        ),
        order=order,
    )
