"""The chat: the conversation, the composer, the side panel and the status line.

Every turn runs the same way: a thread worker hands a job to the pipeline thread; the job
starts the turn (the pipeline commits the user's message first), posts ``ReplyStarted``,
streams pieces as ``ReplyPiece`` messages and ends with ``ReplyFinished``. Posting messages
never blocks the generation (``post_message`` is thread-safe), so the measured tokens/s is
the model's, not the screen's, and the UI stays responsive while a reply is written.

A group scene (``-c mira,sable,pip``, or a saved scene) runs the same way, a *round* at a time:
the user's message (or none), then each chosen speaker's line, one after another, each
streaming into its own message box. The worker asks the pipeline thread for one speaker at a
time from a queue the screen shares, so a click on a name in the cast can change who is next
while a line is being written.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import work
from textual.app import ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.css.query import NoMatches
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input
from textual.worker import Worker, WorkerState, get_current_worker

from tui.backend import (
    Abandoned,
    ChatSession,
    ChatTarget,
    ConversationView,
    GroupView,
    Identity,
    MessageView,
    TurnOutcome,
    describe_error,
    open_chat,
)
from tui.export import export_conversation
from tui.group import GroupSession, open_group, parse_command, preview
from tui.keys import CHAT_KEYS, GROUP_KEYS, MESSAGE_KEYS, SPEAK_KEYS, bindings, palette_commands
from tui.screens.edit import EditScreen
from tui.screens.error import ErrorScreen
from tui.turn_info import TurnInfo, from_metadata, from_prepared
from tui.widgets.cast import CastList, CastPane
from tui.widgets.chat_log import ChatLog
from tui.widgets.message import MessageBox
from tui.widgets.status_line import Status, StatusLine
from tui.widgets.turn_panel import SteeringControl, TurnPanel

if TYPE_CHECKING:
    from roleplay.cards.model import Card
    from roleplay.pipeline import PreparedTurn, ReplyStream
    from tui.app import RoleplayApp

Starter = Callable[[Any, threading.Event], "tuple[ReplyStream, ConversationView]"]
"""Starts one turn on the pipeline thread (given the ChatSession or GroupSession): returns the
stream and the view to show meanwhile."""

Opener = Callable[[GroupSession], "tuple[ConversationView, list[str]]"]
"""Opens a round of a group scene on the pipeline thread (the user's message, or none):
returns the view and who speaks, in order."""

NOTE_SECONDS = 8.0  # how long a passing note ("stopped …") stays on the status line
ERROR_SECONDS = 10.0  # how long an error notification stays


class ChatScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        *bindings(CHAT_KEYS),
        *bindings(GROUP_KEYS),
        *bindings(SPEAK_KEYS),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
    ]
    # The side panel shows by default from 100 columns (Textual types this as a plain
    # attribute on Screen, hence no ClassVar).
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-narrow"),
        (100, "-wide"),
    ]
    AUTO_FOCUS = "#composer"

    generating: reactive[bool] = reactive(False, bindings=True)

    # Messages from the workers ------------------------------------------------------------

    class Opened(Message):
        def __init__(self, session: ChatSession | GroupSession, view: ConversationView) -> None:
            super().__init__()
            self.session, self.view = session, view

    class OpenFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class ReplyStarted(Message):
        def __init__(self, view: ConversationView, prepared: PreparedTurn) -> None:
            super().__init__()
            self.view, self.prepared = view, prepared

    class ReplyPiece(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    class ReplyRetry(Message):
        """The echo guard rejected the attempt being shown; another one follows."""

        def __init__(self, overlap: float) -> None:
            super().__init__()
            self.overlap = overlap

    class ReplyFinished(Message):
        def __init__(self, outcome: TurnOutcome, *, last: bool = True) -> None:
            super().__init__()
            self.outcome = outcome
            self.last = last  # False: a group scene's round goes on (RoundFinished ends it)

    class RoundOpened(Message):
        """A group scene's round began: the user's message is stored; these will speak."""

        def __init__(self, view: ConversationView, speakers: list[str]) -> None:
            super().__init__()
            self.view, self.speakers = view, speakers

    class RoundFinished(Message):
        """Every chosen speaker of a group scene's round has spoken (or it was stopped)."""

    class SceneChanged(Message):
        """Someone joined, left, was muted; the order changed."""

        def __init__(self, view: ConversationView, note: str) -> None:
            super().__init__()
            self.view, self.note = view, note

    class SpeakerChosen(Message):
        """``/as NAME`` named this member of the scene."""

        def __init__(self, name: str) -> None:
            super().__init__()
            self.name = name

    class ReplyFailed(Message):
        def __init__(self, error: str) -> None:
            super().__init__()
            self.error = error

    class Failed(Message):
        """Something other than a reply failed (a swipe, a refresh, a steering change)."""

        def __init__(self, what: str, error: str) -> None:
            super().__init__()
            self.what, self.error = what, error

    class ViewChanged(Message):
        def __init__(
            self, view: ConversationView, focus: int | None = None, unsent: str | None = None
        ) -> None:
            super().__init__()
            self.view, self.focus = view, focus  # focus: position of the box to select
            self.unsent = unsent  # the composer's text when a turn failed before clearing it

    def __init__(self, target: ChatTarget) -> None:
        super().__init__()
        self.target = target
        self.session: ChatSession | GroupSession | None = None
        self.view: ConversationView | None = None
        self.selected_id: int | None = None
        self._opening = False
        self._opening_since = 0.0
        self._opening_timer: Timer | None = None
        self._cancel: threading.Event | None = None
        self._live: MessageBox | None = None
        self._clear_composer = False
        self._refocus_reply = False
        self._note_timer: Timer | None = None
        # Live turns know more than stored metadata (memory texts): keep what we saw.
        self._turns: dict[int, TurnInfo] = {}
        # A persona chosen before the chat was open: applied once it is.
        self._pending_identity: Identity | None = None
        # A group scene: who speaks after the line being written, in order, each with
        # whether the user chose it (the worker takes from the left; a click puts a name
        # there); who is speaking; the cast as last seen.
        self._queue: deque[tuple[str, bool]] = deque()
        self._speaking: str | None = None
        self._group_view: GroupView | None = None

    @property
    def is_group(self) -> bool:
        return self.target.group

    @property
    def roleplay(self) -> RoleplayApp:
        return cast("RoleplayApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="chat-body"):
            yield ChatLog(id="log")
            yield TurnPanel(adjustable_steering=self.roleplay.steering is not None, id="panel")
        composer = Input(placeholder="Type a message…", id="composer")
        composer.cursor_blink = self.roleplay.cursor_blink
        yield composer
        yield StatusLine(id="status")
        yield Footer()

    @property
    def log_view(self) -> ChatLog:
        return self.query_one("#log", ChatLog)

    @property
    def panel(self) -> TurnPanel:
        return self.query_one("#panel", TurnPanel)

    @property
    def status(self) -> StatusLine:
        return self.query_one("#status", StatusLine)

    @property
    def composer(self) -> Input:
        return self.query_one("#composer", Input)

    # Opening --------------------------------------------------------------------------------

    async def on_mount(self) -> None:
        label = self.target.label or "the conversation"
        await self.log_view.placeholder(f"Opening {label}…")
        if self.target.card is not None:
            self._show_card_while_opening(self.target.card)
        # Fail fast on a typo, an unknown session or a broken card, before waiting for the
        # model (seconds, or minutes on a first start); after the first frame.
        if self.target.character is not None and self.target.card_path is None:
            self.call_after_refresh(self._resolve_character, self.target.character)
        elif self.target.group and self.target.members and self.target.card is None:
            self.call_after_refresh(self._resolve_group, self.target.members)
        elif self.target.session_id is not None and self.target.card is None:
            self.call_after_refresh(self._check_session, self.target.session_id)
        else:
            self._wait_for_model()

    def _wait_for_model(self) -> None:
        self.watch(self.roleplay, "model_status", self._model_status_changed, init=True)

    def _resolve_character(self, reference: str) -> None:
        from roleplay.cards.loader import load_card
        from roleplay.cards.registry import resolve_card

        if "," in reference:
            self._resolve_group(reference)
            return
        try:
            card_path = resolve_card(reference)
            card = load_card(card_path).substituted(self.roleplay.user_name)
        except Exception as error:  # a typo, a broken or unreadable card
            self.post_message(self.OpenFailed(describe_error(error, one_line=False)))
            return
        self.target = replace(self.target, card_path=card_path, label=card.name, card=card)
        self._show_card_while_opening(card)
        self._wait_for_model()

    def _resolve_group(self, references: str | tuple[Path, ...]) -> None:
        """``-c mira,sable,pip`` (or the cards marked in the picker): the cards, checked as
        ``roleplay chat`` checks them."""
        from roleplay.cli.options import card_path, card_paths
        from roleplay.groups.scene import check_members

        try:
            if isinstance(references, str):
                paths = card_paths(references)
            else:
                paths = [card_path(str(path)) for path in references]
            cards = check_members(paths)
        except Exception as error:  # an unknown or repeated name, a broken card
            self.post_message(self.OpenFailed(describe_error(error, one_line=False)))
            return
        user = self.roleplay.user_name
        shown = {name: card.substituted(user) for name, card in cards.items()}
        first = next(iter(shown.values()))
        self.target = replace(
            self.target, members=tuple(paths), group=True, label=", ".join(shown), card=first
        )
        self._become_group(preview(shown, self.target.order))
        self._show_card_while_opening(first)
        self._wait_for_model()

    def _check_session(self, session_id: str) -> None:
        """The checks ``ChatPipeline.resume`` (or ``resume_group``) makes, on the UI thread's
        own store connection."""
        from roleplay.groups.scene import group_cards, is_group_session
        from roleplay.pipeline import resumable_session

        try:
            session = self.roleplay.store.get_session(session_id)
            if is_group_session(session):
                state, cards = group_cards(session)
                shown = {name: c.substituted(session.user_name) for name, c in cards.items()}
                group = preview(shown, state.order, tuple(state.present), tuple(state.muted))
                card = next(m.card for m in group.members if m.present)
            else:
                session, card = resumable_session(self.roleplay.store, session_id)
                card = card.substituted(session.user_name)
                group = None
        except Exception as error:  # an unknown id, a lost or broken card, an unreadable store
            self.post_message(self.OpenFailed(describe_error(error, one_line=False)))
            return
        label = card.name if group is None else ", ".join(m.name for m in group.members)
        self.target = replace(self.target, label=label, card=card, group=group is not None)
        if group is not None:
            self._become_group(group)
        self._show_card_while_opening(card)
        self._wait_for_model()

    def _show_card_while_opening(self, card: Card) -> None:
        self.panel.show_card(card)
        who = "the scene" if self.is_group else card.name
        self.composer.placeholder = f"Message {who}…"

    def _become_group(self, group: GroupView) -> None:
        """A group scene: the cast list beside the log (the side panel only on ^T)."""
        self._group_view = group
        if self.has_class("-group"):
            self._update_cast()
            return
        self.add_class("-group")
        self.query_one("#chat-body").mount(CastPane(group, id="cast-pane"), before="#panel")
        self.refresh_bindings()

    def _update_cast(self) -> None:
        group = self._group_view
        if group is None:
            return
        try:
            pane = self.query_one(CastPane)
        except NoMatches:
            return
        waiting = tuple(self._queue)  # one step: the round's worker takes from it meanwhile
        pane.show(group, speaking=self._speaking, upcoming=[name for name, _ in waiting])

    async def _model_status_changed(self, status: Status) -> None:
        if self.session is not None or self._opening:
            return
        if status.model_state == "ready":
            self._opening = True
            await self.log_view.placeholder(
                "Opening the chat… Memory and steering are being prepared for the character "
                "(the first chat with a character takes longer)."
            )
            self._opening_since = time.monotonic()
            self._opening_timer = self.set_interval(1.0, self._tick_opening)
            self._tick_opening()
            self._open_worker()
        elif status.model_state == "loading":
            await self.log_view.placeholder(
                "Loading the model… (the very first start converts it: about 20 s, once)\n"
                "You can type your first message meanwhile."
            )
        else:
            await self.log_view.placeholder("No model is loaded, so this chat cannot start.")

    def _tick_opening(self) -> None:
        seconds = int(time.monotonic() - self._opening_since)
        self.status.set(note=f"opening… {seconds} s" if seconds else "opening…")

    def _stop_opening(self) -> None:
        if self._opening_timer is not None:
            self._opening_timer.stop()
            self._opening_timer = None
        self.status.set(note="")

    def _passing_note(self, text: str) -> None:
        """A note on the status line that clears itself (the status line is never covered)."""
        if self._note_timer is not None:
            self._note_timer.stop()
        self.status.set(note=text)

        def clear() -> None:
            self._note_timer = None
            if self.status.status.note == text:
                self.status.set(note="")

        self._note_timer = self.set_timer(NOTE_SECONDS, clear)

    def _clear_passing_note(self) -> None:
        if self._note_timer is not None:
            self._note_timer.stop()
            self._note_timer = None

    # Every worker catches everything: a failure is reported in a notification and the app
    # and the session stay open (Textual would otherwise close the app on a worker's error).

    @work(thread=True, group="open", exit_on_error=False)
    def _open_worker(self) -> None:
        app, target, worker = self.roleplay, self.target, get_current_worker()
        pipeline = app.pipeline
        assert pipeline is not None

        def job() -> tuple[ChatSession | GroupSession, ConversationView]:
            # Read here, on the pipeline thread: a persona chosen while the model loaded counts.
            identity = app.identity
            if target.group:
                scene = open_group(pipeline, target, identity)
                return scene, scene.view()
            session = open_chat(
                pipeline,
                target,
                identity.name,
                identity.description,
                persona_id=identity.persona_id,
            )
            return session, session.view()

        try:
            session, view = app.pipeline_thread.run(job, abandoned=lambda: worker.is_cancelled)
        except Abandoned:
            return
        except Exception as error:
            self.post_message(self.OpenFailed(describe_error(error, one_line=False)))
        else:
            self.post_message(self.Opened(session, view))

    async def on_chat_screen_opened(self, message: Opened) -> None:
        self._stop_opening()
        view = message.view
        self.roleplay.last_session_id = view.session_id
        await self._show(view)
        self.panel.show_card(view.card)
        if view.group is not None:
            self.composer.placeholder = (
                "Message the scene…   (Enter alone: the next one speaks · /help · F1 keys)"
            )
        else:
            self.composer.placeholder = (
                f"Message {view.character}…   (↑ selects messages · F1 help)"
            )
        last = view.last_reply()
        self.status.set(
            user=view.user_name,
            session_id=view.session_id,
            context_window=view.context_window,
            prompt_tokens=last.metadata.get("prompt_tokens") if last else None,
            tokens_per_second=from_metadata(last.metadata).tokens_per_second if last else None,
        )
        self.session = message.session  # last: from now on, turns may start
        pending, self._pending_identity = self._pending_identity, None
        if pending is not None and pending.name != view.user_name:
            self._persona_worker(pending)
        if view.messages and view.messages[-1].role == "user":
            hint = "^R lets the next speaker answer" if view.group else "^R writes one"
            self.notify(f"Your last message has no reply yet: {hint}.", title="Resumed", timeout=6)

    def on_chat_screen_open_failed(self, message: OpenFailed) -> None:
        self._stop_opening()
        label = self.target.label or self.target.session_id or "the chat"
        error = ErrorScreen(
            f"Could not open {label}",
            message.error,
            hint="Esc goes back to the characters and sessions.",
        )
        # Scheduled on the app: awaiting our own replacement from our own handler would wait
        # for this very handler to finish.
        self.app.call_later(self.app.switch_screen, error)

    # Turns ----------------------------------------------------------------------------------

    def _ready_for_turn(self) -> bool:
        if self.session is None:
            self.notify("The model is still loading; your message stays in the box.")
            return False
        if self.generating:
            self.notify("A reply is being written; Esc stops it.")
            return False
        return True

    def _start(self, starter: Starter, *, clear_composer: bool = False) -> None:
        if not self._ready_for_turn():
            return
        self._clear_passing_note()
        self.generating = True
        self._cancel = threading.Event()
        self._clear_composer = clear_composer
        self._refocus_reply = isinstance(self.focused, MessageBox)
        self._reply_worker(starter, self._cancel)

    @work(thread=True, group="reply", exit_on_error=False)
    def _reply_worker(self, starter: Starter, cancel: threading.Event) -> None:
        session, worker = self.session, get_current_worker()
        assert session is not None

        def job() -> TurnOutcome:
            stream, base = starter(session, cancel)
            self.post_message(self.ReplyStarted(base, stream.prepared))

            def on_piece(piece: str) -> None:
                self.post_message(self.ReplyPiece(piece))

            if isinstance(session, GroupSession):
                return session.play(stream, on_piece, self._on_retry)
            return session.play(stream, on_piece)

        try:
            outcome = self.roleplay.pipeline_thread.run(job, abandoned=lambda: worker.is_cancelled)
        except Abandoned:
            return
        except Exception as error:  # a backend, the model, a feature, a bug: none ends the app
            self.post_message(self.ReplyFailed(describe_error(error)))
        else:
            self.post_message(self.ReplyFinished(outcome))

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if self.is_group:
            if text.startswith("/"):
                self._command(text)
            elif text:
                self._start_round(lambda scene: scene.send(text), clear_composer=True)
            else:  # an empty line: the next speakers talk without a message from the user
                self._start_round(lambda scene: scene.next_speakers())
            return
        if text:
            self._start(lambda session, cancel: session.send(text, cancel), clear_composer=True)

    # A group scene's rounds -------------------------------------------------------------------

    def _start_round(self, opener: Opener | None, *, clear_composer: bool = False) -> None:
        """A round: ``opener`` (the user's message, or none) chooses the speakers; None: the
        queue holds them already (the user chose one)."""
        if not self._ready_for_turn():
            return
        self._clear_passing_note()
        self.generating = True
        self._cancel = threading.Event()
        self._clear_composer = clear_composer
        self._refocus_reply = False
        self._round_worker(opener, self._cancel)

    @work(thread=True, group="reply", exit_on_error=False)
    def _round_worker(self, opener: Opener | None, cancel: threading.Event) -> None:
        session, worker = self.session, get_current_worker()
        assert isinstance(session, GroupSession)
        pipeline_thread = self.roleplay.pipeline_thread

        def speak(name: str, chosen: bool) -> TurnOutcome | None:
            started = session.reply(name, cancel, chosen=chosen)
            if started is None:  # it left, or was muted, since the order chose it
                return None
            stream, base = started
            self.post_message(self.ReplyStarted(base, stream.prepared))

            def on_piece(piece: str) -> None:
                self.post_message(self.ReplyPiece(piece))

            return session.play(stream, on_piece, self._on_retry)

        try:
            if opener is not None:
                view, speakers = pipeline_thread.run(
                    lambda: opener(session), abandoned=lambda: worker.is_cancelled
                )
                self._queue.extend((name, False) for name in speakers)
                self.post_message(self.RoundOpened(view, speakers))
            while not cancel.is_set():
                try:
                    name, chosen = self._queue.popleft()
                except IndexError:
                    break
                outcome = pipeline_thread.run(
                    lambda name=name, chosen=chosen: speak(name, chosen),  # type: ignore[misc]
                    abandoned=lambda: worker.is_cancelled,
                )
                if outcome is None:
                    continue
                self.post_message(self.ReplyFinished(outcome, last=False))
                if outcome.interrupted:
                    break
        except Abandoned:
            return
        except Exception as error:  # as in _reply_worker: reported, the app goes on
            self._queue.clear()
            self.post_message(self.ReplyFailed(describe_error(error)))
            return
        self.post_message(self.RoundFinished())

    async def on_chat_screen_round_opened(self, message: RoundOpened) -> None:
        if self._clear_composer:
            self.composer.value = ""  # the message is stored: clearing loses nothing
            self._clear_composer = False
        await self._show(message.view)
        if not message.speakers and not self._queue:
            group = message.view.group
            if group is not None and group.order == "manual":
                self._passing_note("manual order: click a name in the cast (or Alt+N) to choose")
            else:
                self._passing_note("nobody is free to speak: unmute or bring someone in")

    async def on_chat_screen_round_finished(self, message: RoundFinished) -> None:
        self._speaking = None
        self.generating = False
        if self._queue and self._cancel is not None and not self._cancel.is_set():
            self._start_round(None)  # a name was chosen just as the round ended
            return
        self._queue.clear()
        self._update_cast()
        self._show_selected_turn()

    def _speak_now(self, name: str) -> None:
        """``/as NAME`` or a click: ``name`` speaks now, or next while someone speaks."""
        if self.session is None:
            self.notify("The model is still loading.")
            return
        if self.generating:
            self._queue.appendleft((name, True))
            self._update_cast()
            self._passing_note(f"{name} speaks next")
            return
        self._queue.append((name, True))
        self._start_round(None)

    async def on_chat_screen_reply_started(self, message: ReplyStarted) -> None:
        if self._clear_composer:
            # Only now: the pipeline has committed the message, so clearing loses nothing.
            self.composer.value = ""
            self._clear_composer = False
        view = message.view
        self.view = view
        await self.log_view.show(view)
        speaker = view.speaking or view.character
        tint = view.group.tint(speaker) if view.group is not None else 0
        self._live = await self.log_view.start_live(speaker, tint)
        if view.group is not None:
            self._speaking = speaker
            self._group_view = view.group
            self._update_cast()
            self._show_member_card(speaker)
        if self._refocus_reply:
            self._live.focus()
        self.panel.show_turn(from_prepared(message.prepared), message.view.controls)
        self.status.set(
            prompt_tokens=message.prepared.prompt.prompt_tokens, note="writing… Esc stops"
        )

    async def on_chat_screen_reply_piece(self, message: ReplyPiece) -> None:
        if self._live is not None:
            await self._live.write(message.text)

    def _on_retry(self, overlap: float) -> None:  # on the pipeline thread
        self.post_message(self.ReplyRetry(overlap))

    async def on_chat_screen_reply_retry(self, message: ReplyRetry) -> None:
        if self._live is not None:
            await self._live.restart(f"again: that repeated {message.overlap:.0%} of what was said")

    async def on_chat_screen_reply_finished(self, message: ReplyFinished) -> None:
        outcome = message.outcome
        self._live = None
        stored = outcome.view.find(outcome.message_id) if outcome.message_id else None
        info = from_prepared(outcome.prepared, outcome.stats, stored.metadata if stored else None)
        if stored is not None:
            self._turns[stored.id] = info
        await self._show(outcome.view, focus_last=self._refocus_reply)
        self.panel.show_turn(info, outcome.view.controls)
        self.status.set(
            tokens_per_second=outcome.stats.tokens_per_second,
            prompt_tokens=outcome.prepared.prompt.prompt_tokens,
            note="",
        )
        self._speaking = None
        if message.last:
            self.generating = False  # last: the screen is consistent again
        self._update_cast()  # a group scene: nobody speaking (the round may go on)
        if outcome.interrupted:
            # On the status line, not in a notification: a toast would sit over the input
            # just when the user goes back to typing. The reply's header says it too.
            self._passing_note(
                "stopped · what was written is kept"
                if stored
                else "stopped before the first word · nothing was stored"
            )
        elif message.last and self._queue:
            self._start_round(None)  # a group scene: chosen while a line was regenerated

    async def on_chat_screen_reply_failed(self, message: ReplyFailed) -> None:
        self.generating = False
        self._queue.clear()
        self._speaking = None
        self._update_cast()
        live, self._live = self._live, None
        if live is not None and live.is_attached:
            await live.close_stream()
            live.failed()  # until the refresh below shows what the pipeline kept
        self.status.set(note="")
        self._notify_error(f"The reply failed: {message.error} · ^R tries again")
        # The user's message may be committed even though no reply came (^R writes one);
        # the pipeline keeps no failed reply, or marks what it kept as interrupted.
        unsent = self.composer.value.strip() if self._clear_composer else None
        self._refresh_worker(unsent=unsent or None)

    def on_chat_screen_failed(self, message: Failed) -> None:
        self._notify_error(f"{message.what} failed: {message.error}")

    def _notify_error(self, text: str) -> None:
        # Plain text: an error's own words may hold brackets ("[Errno 2]") that are not markup.
        self.notify(text, severity="error", timeout=ERROR_SECONDS, markup=False)

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # A safety net: the workers catch their errors, but one that escapes must not leave
        # the screen waiting for a reply that will never come.
        if event.state != WorkerState.ERROR:
            return
        error = event.worker.error
        detail = describe_error(error) if error is not None else "unknown error"
        if event.worker.group == "reply" and self.generating:
            self.post_message(self.ReplyFailed(detail))
        elif event.worker.group == "open":
            self.post_message(self.OpenFailed(detail))
        else:
            self.post_message(self.Failed("A background task", detail))

    @work(thread=True, group="view", exit_on_error=False)
    def _refresh_worker(self, focus: int | None = None, unsent: str | None = None) -> None:
        session, worker = self.session, get_current_worker()
        if session is None:
            return
        try:
            view = self.roleplay.pipeline_thread.run(
                session.view, abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except Exception as error:
            self.post_message(self.Failed("Reading the conversation", describe_error(error)))
            return
        self.post_message(self.ViewChanged(view, focus, unsent))

    async def on_chat_screen_view_changed(self, message: ViewChanged) -> None:
        last = message.view.messages[-1] if message.view.messages else None
        committed = last is not None and last.role == "user" and last.content == message.unsent
        if message.unsent and committed and self.composer.value.strip() == message.unsent:
            # The turn failed after the pipeline committed the message: it is in the log
            # now, and sending it again from the box would repeat it.
            self.composer.value = ""
        await self._show(message.view)
        boxes = self.log_view.boxes()
        if message.focus is not None and 0 <= message.focus < len(boxes):
            boxes[message.focus].focus()

    async def _show(self, view: ConversationView, *, focus_last: bool = False) -> None:
        self.view = view
        if view.group is not None:
            self._group_view = view.group
            self._update_cast()
        await self.log_view.show(view)
        if focus_last:
            boxes = self.log_view.boxes()
            if boxes:
                boxes[-1].focus()
        self._show_selected_turn()

    # The side panel follows the selected reply (or the latest one) -----------------------

    def on_message_box_selected(self, message: MessageBox.Selected) -> None:
        self.selected_id = message.box.message_id
        self._show_selected_turn()

    def on_descendant_focus(self) -> None:
        # Looking at the panel keeps the selection it describes.
        keep = (MessageBox, SteeringControl, TurnPanel)
        if not isinstance(self.focused, keep) and self.selected_id:
            self.selected_id = None
            self._show_selected_turn()

    def _show_selected_turn(self) -> None:
        if self.view is None or self.generating:
            return
        selected = self.view.find(self.selected_id) if self.selected_id else None
        reply = selected if selected and selected.role == "assistant" else self.view.last_reply()
        if reply is None:
            self.panel.show_turn(TurnInfo(), self.view.controls)
            return
        if self.view.group is not None:  # the card of the character who said it
            self._show_member_card(self.view.speaker(reply))
        info = self._turns.get(reply.id) or from_metadata(reply.metadata)
        self.panel.show_turn(info, self.view.controls)

    def _show_member_card(self, name: str) -> None:
        member = self._group_view.member(name) if self._group_view else None
        if member is not None:
            self.panel.show_card(member.card)

    def _panel_speaker(self) -> str | None:
        """The character the side panel describes (a group scene: the selected reply's)."""
        if self.view is None or self.view.group is None:
            return None
        selected = self.view.find(self.selected_id) if self.selected_id else None
        reply = selected if selected and selected.role == "assistant" else self.view.last_reply()
        return self.view.speaker(reply) if reply is not None else None

    # Actions --------------------------------------------------------------------------------

    def _selected(self) -> MessageView | None:
        if self.view is None or not isinstance(self.focused, MessageBox):
            return None
        return self.view.find(self.focused.message_id) if self.focused.message_id else None

    def _selected_reply(self) -> MessageView | None:
        selected = self._selected()
        if selected is not None:
            return selected if selected.role == "assistant" else None
        return self.view.last_reply() if self.view else None

    def action_stop_or_back(self) -> None:
        if self.generating and self._cancel is not None:
            self._queue.clear()  # a group scene's round ends with this line
            self._cancel.set()
            if self._live is not None:
                self._live.stopping()
            self.status.set(note="stopping…")
        elif not self.composer.has_focus:
            self.composer.focus()

    def action_select_messages(self) -> None:
        boxes = self.log_view.boxes()
        if boxes:
            boxes[-1].focus()

    def action_page(self, direction: int) -> None:
        log = self.log_view
        log.scroll_page_down() if direction > 0 else log.scroll_page_up()

    def action_regenerate(self) -> None:
        if not self._ready_for_turn() or self.view is None:
            return
        selected = self._selected()
        if selected is None and self.view.messages and self.view.messages[-1].role == "user":
            # The last reply was never written (stopped before a word, or it failed).
            if self.is_group:
                self._start_round(lambda scene: scene.next_speakers())
            else:
                self._start(lambda session, cancel: session.reply_to_head(cancel))
            return
        target = self._selected_reply()
        if target is None:
            self.notify("Select one of the character's replies to regenerate it.")
        elif target.parent_id is None:
            self.notify("That is the greeting: ←/→ flips between the card's greetings.")
        else:
            message_id = target.id
            self._start(lambda session, cancel: session.regenerate(message_id, cancel))

    def action_swipe(self, step: int) -> None:
        if not self._ready_for_turn() or self.view is None:
            return
        target = self._selected_reply()
        if target is None:
            return
        index = target.swipe_index + step
        if index < 1:
            self.notify("This is the first alternative.")
        elif index > target.swipe_count:
            if target.parent_id is None:
                self.notify("There are no more greetings.")
            else:  # past the last alternative: write a new one, as the swipe gesture suggests
                message_id = target.id
                self._start(lambda session, cancel: session.regenerate(message_id, cancel))
        else:
            position = self.view.messages.index(target)
            self._swipe_worker(target.id, index, position)

    @work(thread=True, group="view", exit_on_error=False)
    def _swipe_worker(self, message_id: int, index: int, position: int) -> None:
        session, worker = self.session, get_current_worker()
        assert session is not None
        try:
            view = self.roleplay.pipeline_thread.run(
                lambda: session.swipe(message_id, index), abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except Exception as error:
            self.post_message(self.Failed("Swiping", describe_error(error)))
            return
        self.post_message(self.ViewChanged(view, focus=position))

    def action_edit(self) -> None:
        if not self._ready_for_turn() or self.view is None:
            return
        selected = self._selected()
        if selected is not None and selected.role != "user":
            self.notify("Only your own messages can be edited.")
            return
        target = selected or next(
            (m for m in reversed(self.view.messages) if m.role == "user"), None
        )
        if target is None:
            self.notify("You have not written anything yet.")
            return
        message_id = target.id

        def edited(text: str | None) -> None:
            if text and self.is_group:
                self._start_round(lambda scene: scene.edit(message_id, text))
            elif text:
                self._start(lambda session, cancel: session.edit(message_id, text, cancel))

        self.app.push_screen(
            EditScreen(target.content, cursor_blink=self.roleplay.cursor_blink), edited
        )

    def action_export(self, here: bool = False) -> None:
        if self.view is None:
            self.notify("Nothing to export yet.")
            return
        folder = Path.cwd() if here else self.roleplay.exports_dir
        try:
            path = export_conversation(self.view, folder)
        except OSError as error:
            self.notify(
                f"{folder}: {error.strerror or error}",
                title="Export failed",
                severity="error",
                markup=False,
            )
            return
        self.notify(str(path), title="Exported", timeout=8, markup=False)

    def action_toggle_panel(self) -> None:
        shown = self.panel.display
        self.set_class(not shown, "-panel-on")
        self.set_class(shown, "-panel-off")

    def action_characters(self) -> None:
        if self._cancel is not None:
            self._cancel.set()  # the pipeline stores what was written so far
        self.dismiss()

    def action_personas(self) -> None:
        self.roleplay.show_personas(self._play_as)

    def _play_as(self, identity: Identity | None) -> None:
        if identity is None:
            return
        if self.session is None:  # still opening: the open job reads the app's identity
            self._pending_identity = identity
            return
        self._persona_worker(identity)

    @work(thread=True, group="persona", exit_on_error=False)
    def _persona_worker(self, identity: Identity) -> None:
        session, worker = self.session, get_current_worker()
        if session is None:
            return
        try:
            view = self.roleplay.pipeline_thread.run(
                lambda: session.use_persona(identity), abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except Exception as error:
            self.post_message(self.Failed("Switching persona", describe_error(error)))
            return
        self.post_message(self.PersonaChanged(view))

    class PersonaChanged(Message):
        def __init__(self, view: ConversationView) -> None:
            super().__init__()
            self.view = view

    async def on_chat_screen_persona_changed(self, message: PersonaChanged) -> None:
        view = message.view
        self.status.set(user=view.user_name)
        self.panel.show_card(view.card)
        if not self.generating:
            await self._show(view)
        self._passing_note(f"you play {view.user_name} from the next message")

    def action_profile(self) -> None:
        if self.view is None:
            self.notify("The chat is still opening.")
            return
        from tui.screens.profile import ProfileScreen

        character = self._panel_speaker() or self.view.card.name
        self.app.push_screen(ProfileScreen(self.view.user_name, character))

    def on_steering_control_changed(self, message: SteeringControl.Changed) -> None:
        self._steer_worker(message.strengths)

    @work(thread=True, group="steer", exit_on_error=False)
    def _steer_worker(self, strengths: dict[str, float]) -> None:
        session, adjuster, worker = self.session, self.roleplay.steering, get_current_worker()
        if session is None or adjuster is None:
            return
        speaker = self._panel_speaker()

        def job() -> None:
            assert adjuster is not None
            if isinstance(session, GroupSession):
                session.set_strengths(adjuster, strengths, speaker)
            elif session is not None:
                session.set_strengths(adjuster, strengths)

        try:
            self.roleplay.pipeline_thread.run(job, abandoned=lambda: worker.is_cancelled)
        except Abandoned:
            return
        except Exception as error:
            self.post_message(self.Failed("The steering change", describe_error(error)))

    def on_unmount(self) -> None:
        # Leaving or quitting mid-reply: stop it; the pipeline stores the partial reply.
        if self._cancel is not None:
            self._cancel.set()
            if self.generating:
                self.roleplay.reply_stopped_on_exit()

    # A group scene: the cast, slash commands and scene changes -------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("cast", "speak"):
            return self.is_group  # hidden (footer, palette) in one-to-one chats
        return True

    def action_cast(self) -> None:
        casts = self.query(CastList)
        if casts:
            casts.first().focus()

    def action_speak(self, number: int) -> None:
        members = self._group_view.members if self._group_view else ()
        if 1 <= number <= len(members):
            self._speak_now(members[number - 1].name)

    def on_cast_list_command(self, message: CastList.Command) -> None:
        name, command = message.name, message.command
        if command == "as":
            self._speak_now(name)
        elif command == "add":
            self.composer.value = "/join "
            self.composer.cursor_position = len(self.composer.value)
            self.composer.focus()
        else:
            self._scene_command(command, name)

    def _command(self, line: str) -> None:
        """A slash command typed in a group scene's input box (see ``tui.group``)."""
        try:
            command = parse_command(line)
        except ValueError as error:
            self._notify_error(str(error))
            return
        self.composer.value = ""
        name, argument = command.name, command.argument
        if name == "as":
            self._resolve_worker(argument)
        elif name in ("join", "leave", "mute", "unmute", "order"):
            self._scene_command(name, argument)
        elif name == "regen":
            self.action_regenerate()
        elif name == "swipe":
            self._swipe_to(int(argument))
        elif name == "persona":
            self._persona_by_name(argument)
        elif name == "who":
            self._who()
        elif name == "history":
            self.notify("The scene so far is the log above: ↑ selects messages, ^S exports it.")
        elif name == "help":
            self.roleplay.action_help()
        elif name == "quit":
            self.action_characters()

    def _scene_command(self, command: str, argument: str) -> None:
        if self.session is None:
            self.notify("The scene is still opening.")
            return
        jobs: dict[str, Callable[[GroupSession], tuple[ConversationView, str]]] = {
            "join": lambda scene: scene.join(argument),
            "leave": lambda scene: scene.leave(argument),
            "mute": lambda scene: scene.mute(argument, True),
            "unmute": lambda scene: scene.mute(argument, False),
            "order": lambda scene: scene.set_order(argument),
        }
        self._scene_worker(f"/{command} {argument}", jobs[command])

    @work(thread=True, group="scene", exit_on_error=False)
    def _scene_worker(
        self, what: str, job: Callable[[GroupSession], tuple[ConversationView, str]]
    ) -> None:
        session, worker = self.session, get_current_worker()
        if not isinstance(session, GroupSession):
            return
        try:
            view, note = self.roleplay.pipeline_thread.run(
                lambda: job(session), abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except Exception as error:  # an unknown name, someone joining twice: one line
            self.post_message(self.Failed(what, describe_error(error)))
            return
        self.post_message(self.SceneChanged(view, note))

    async def on_chat_screen_scene_changed(self, message: SceneChanged) -> None:
        view = message.view
        if self.generating:
            # A line is being written: its box stays; the next view shows the event.
            if view.group is not None:
                self._group_view = view.group
                self._update_cast()
        else:
            await self._show(view)
        self._passing_note(message.note)

    @work(thread=True, group="scene", exit_on_error=False)
    def _resolve_worker(self, name: str) -> None:
        session, worker = self.session, get_current_worker()
        if not isinstance(session, GroupSession):
            self.post_message(self.Failed("/as", "the scene is still opening"))
            return
        try:
            key = self.roleplay.pipeline_thread.run(
                lambda: session.resolve(name), abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except Exception as error:  # not in this scene
            self.post_message(self.Failed(f"/as {name}", describe_error(error)))
            return
        self.post_message(self.SpeakerChosen(key))

    def on_chat_screen_speaker_chosen(self, message: SpeakerChosen) -> None:
        self._speak_now(message.name)

    def _swipe_to(self, index: int) -> None:
        """``/swipe N``: kept version N of the last character line."""
        if not self._ready_for_turn() or self.view is None:
            return
        target = self.view.last_reply()
        if target is None:
            self.notify("No character has spoken yet.")
        elif not 1 <= index <= target.swipe_count:
            self._notify_error(f"/swipe {index}: that line has {target.swipe_count} version(s)")
        else:
            self._swipe_worker(target.id, index, self.view.messages.index(target))

    def _persona_by_name(self, name: str) -> None:
        """``/persona NAME``: play as a saved persona in this scene from now on."""
        from roleplay.personas.store import get_persona

        try:
            persona = get_persona(name)
        except Exception as error:  # no such persona, an unreadable file
            self._notify_error(f"/persona {name}: {describe_error(error)}")
            return
        self._play_as(Identity(persona.name, persona.description, persona_id=persona.name))

    def _who(self) -> None:
        group = self._group_view
        if group is None:
            return
        parts = []
        for member in group.members:
            state = "" if member.present else " (away)"
            state = " (muted)" if member.present and member.muted else state
            parts.append(member.name + state)
        self.notify(f"{', '.join(parts)} · order: {group.order}", title="Who is here", markup=False)

    def palette_commands(self) -> list[SystemCommand]:
        commands = palette_commands(self, CHAT_KEYS) + palette_commands(self, MESSAGE_KEYS)
        if self.is_group:
            commands += palette_commands(self, GROUP_KEYS)
        commands.append(
            SystemCommand(
                "Export to the current folder",
                f"save the conversation as Markdown in {Path.cwd()}",
                lambda: self.action_export(here=True),
            )
        )
        return commands
