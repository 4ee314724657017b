"""The TUI's doorway into the pipeline, and the plain snapshots its widgets render.

Threading: the session store's SQLite connection may only be used by the thread that opened
it, and Textual starts a fresh thread for every thread worker. So one long-lived thread
(``PipelineThread``) builds the pipeline and runs *every* call into it; workers hand it their
job and wait. The widgets never touch the pipeline: they render ``ConversationView``
snapshots taken on that thread.

Nothing here decides anything about role-play: it calls ``Conversation`` methods and copies
what they return.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # annotations only: the first frame must not wait for these imports
    from roleplay.cards.model import Card
    from roleplay.engine.base import GenerationStats
    from roleplay.pipeline import ChatPipeline, Conversation, PreparedTurn, ReplyStream
    from roleplay.sessions import Message, MessageRole, Session

T = TypeVar("T")

PipelineFactory = Callable[[], "ChatPipeline"]
"""Builds the pipeline (loads the model). Runs on the pipeline thread; tests inject one."""

SteeringAdjuster = Callable[["Conversation", Mapping[str, float]], None]
"""Applies steering strengths ``{attribute: strength}`` to a conversation's controller.

Called on the pipeline thread with the full set of strengths after each change; they apply
from the next reply. The controller API is not settled yet, so the app only offers live
adjustment when one is given (see docs/tui.md)."""


WAIT_POLL_SECONDS = 0.1


class Abandoned(Exception):
    """The waiting worker was cancelled (the app is closing); the job itself runs on."""


ERROR_LINE_CHARS = 200


def describe_error(error: BaseException, *, one_line: bool = True) -> str:
    """An exception in words for the user.

    The project's own errors (``RoleplayError``, a backend's ``BackendError``) carry a
    sentence meant for the user; anything else (a bug, a library's ``RuntimeError``) is shown
    as ``Type: message``, so a notification still says what broke. ``one_line`` keeps the
    first line (with a count of the rest) for notifications; error screens take it whole.
    """
    message = getattr(error, "message", None)
    if isinstance(message, str) and message.strip():
        text = message
    else:
        detail = str(error).strip()
        text = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
    if not one_line:
        return text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    more = f" (+{len(lines) - 1} more)" if len(lines) > 1 else ""
    first = lines[0] if lines else type(error).__name__
    if len(first) + len(more) > ERROR_LINE_CHARS:
        first = first[: ERROR_LINE_CHARS - len(more) - 1].rstrip() + "…"
    return first + more


class PipelineThread:
    """Runs jobs one at a time, in order, on a single long-lived thread.

    A daemon thread: a first start's model conversion (~20 s) must not hold the terminal
    after the user quits (the conversion is written atomically, so killing it is safe).
    Replies are cancelled before shutdown and given a moment to store what they generated.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None] = (
            queue.SimpleQueue()
        )
        self._thread = threading.Thread(target=self._loop, name="roleplay-pipeline", daemon=True)
        self._thread.start()

    def run(self, job: Callable[[], T], *, abandoned: Callable[[], bool] = lambda: False) -> T:
        """Run ``job`` on the pipeline thread and wait for its result (or exception).

        The waiting stops (raising ``Abandoned``) once ``abandoned()`` is true: Textual's
        thread workers run on asyncio's default executor, which the app joins on exit, so a
        worker must not wait out a 20-second model load after the user has quit.
        """
        future: Future[T] = Future()
        self._jobs.put((job, future))
        while True:
            try:
                return future.result(timeout=WAIT_POLL_SECONDS)
            except TimeoutError:
                if abandoned():
                    raise Abandoned from None

    def shutdown(self, timeout: float) -> None:
        """Stop after the queued jobs, waiting at most ``timeout`` seconds."""
        self._jobs.put(None)
        self._thread.join(timeout)

    def _loop(self) -> None:
        while (item := self._jobs.get()) is not None:
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(job())
            except BaseException as error:  # handed to the waiting worker, which re-raises
                future.set_exception(error)


@dataclass(frozen=True)
class ChatTarget:
    """What a chat screen opens: a new chat with a card (or several: a group scene), or a
    saved session."""

    card_path: Path | None = None
    session_id: str | None = None
    # A name or path still to resolve (``--character``); "mira,sable,pip" names a group scene.
    character: str | None = None
    label: str = ""  # shown while it opens
    card: Card | None = None  # shown in the side panel while the model loads
    members: tuple[Path, ...] = ()  # a new group scene's cards, in order
    order: str = "natural"  # a new group scene's speaker order
    group: bool = False  # a group scene (new, or a saved session that is one)


@dataclass(frozen=True)
class MessageView:
    id: int
    parent_id: int | None
    role: MessageRole
    content: str
    swipe_index: int  # 1-based position among the kept alternatives
    swipe_count: int
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MemberView:
    """One character of a group scene, as the cast list shows it."""

    name: str
    card: Card
    present: bool
    muted: bool
    talkativeness: float  # 0 to 1: how readily it speaks up in natural order


@dataclass(frozen=True)
class GroupView:
    """The cast of a group scene: who is in it, who is present or muted, the speaker order."""

    members: tuple[MemberView, ...]
    order: str  # natural | round-robin | manual
    next_up: str | None = None  # who the order picks next when that is certain (round-robin)

    def member(self, name: str) -> MemberView | None:
        return next((m for m in self.members if m.name == name), None)

    def tint(self, name: str) -> int:
        """The member's colour (its position in the cast; 0 when it is not a member)."""
        names = [m.name for m in self.members]
        return names.index(name) if name in names else 0


@dataclass(frozen=True)
class ConversationView:
    session_id: str
    character: str  # the card's name; a group scene: its members' names, comma-separated
    user_name: str  # who the user is now (the persona in force)
    model_id: str
    context_window: int
    card: Card
    messages: tuple[MessageView, ...]
    controls: Mapping[str, Any] = field(default_factory=dict)
    # Who sent each of the user's messages (message id -> name): the name it was sent under,
    # which is not the current one after a persona switch (see ``user_labels``).
    user_names: Mapping[int, str] = field(default_factory=dict)
    group: GroupView | None = None  # a group scene's cast
    speaking: str | None = None  # who writes the reply about to stream (a group scene)

    def find(self, message_id: int) -> MessageView | None:
        return next((m for m in self.messages if m.id == message_id), None)

    def last_reply(self) -> MessageView | None:
        return next((m for m in reversed(self.messages) if m.role == "assistant"), None)

    def speaker(self, message: MessageView) -> str:
        """Who said ``message``: the character (in a scene, the one who spoke), the user's
        name when it was sent, or "System"."""
        if message.role == "user":
            return self.user_names.get(message.id, self.user_name)
        if message.role == "assistant":
            if self.group is not None:
                return str(message.metadata.get("speaker") or "?")
            return self.character
        return "System"

    def tint(self, message: MessageView) -> int:
        """A group scene's colour for a character's line (0 otherwise)."""
        if self.group is None or message.role != "assistant":
            return 0
        return self.group.tint(self.speaker(message))


@dataclass(frozen=True)
class TurnOutcome:
    """How a streamed reply ended, with the conversation as it now stands."""

    view: ConversationView
    stats: GenerationStats
    prepared: PreparedTurn
    message_id: int | None  # None when nothing was generated before an interruption
    interrupted: bool


class ChatSession:
    """One open conversation. Every method must run on the pipeline thread."""

    def __init__(self, conversation: Conversation) -> None:
        self.conversation = conversation

    @property
    def session_id(self) -> str:
        return self.conversation.session.id

    def view(self) -> ConversationView:
        conversation = self.conversation
        branch = conversation.messages()
        controller = conversation.controller
        return ConversationView(
            session_id=conversation.session.id,
            character=conversation.card.name,
            user_name=conversation.session.user_name,
            model_id=conversation.pipeline.engine.model_id,
            context_window=conversation.pipeline.engine.context_window,
            card=conversation.card,
            messages=message_views(branch, conversation.swipes),
            controls=controller.describe() if controller is not None else {},
            user_names=user_labels(branch, conversation.session),
        )

    # Each turn returns the stream and the view to show while it plays: the branch up to
    # the message being answered (for a regenerated reply, what follows it is not shown).

    def send(self, text: str, cancel: threading.Event) -> tuple[ReplyStream, ConversationView]:
        stream = self.conversation.send(text, cancel=cancel)
        return stream, self.view()

    def regenerate(
        self, message_id: int | None, cancel: threading.Event
    ) -> tuple[ReplyStream, ConversationView]:
        before = self.view()
        stream = self.conversation.regenerate(message_id, cancel=cancel)
        return stream, _up_to(before, message_id)

    def edit(
        self, message_id: int, text: str, cancel: threading.Event
    ) -> tuple[ReplyStream, ConversationView]:
        stream = self.conversation.edit_user_message(message_id, text, cancel=cancel)
        return stream, self.view()

    def reply_to_head(self, cancel: threading.Event) -> tuple[ReplyStream, ConversationView]:
        stream = self.conversation.reply_to_head(cancel=cancel)
        return stream, self.view()

    def swipe(self, message_id: int, index: int) -> ConversationView:
        self.conversation.swipe(index, message_id)
        return self.view()

    def play(self, stream: ReplyStream, on_piece: Callable[[str], None]) -> TurnOutcome:
        """Iterate ``stream``, handing each piece to ``on_piece``; the pipeline stores it."""
        return play_stream(stream, on_piece, self.view)

    def set_strengths(self, adjuster: SteeringAdjuster, strengths: Mapping[str, float]) -> None:
        adjuster(self.conversation, dict(strengths))

    def use_persona(self, identity: Identity) -> ConversationView:
        """Play ``identity`` from the next message on (``Conversation.use_persona``)."""
        conversation = self.conversation
        conversation.use_persona(
            identity.name, identity.description, persona_id=identity.persona_id
        )
        return self.view()


def message_views(
    branch: Sequence[Message], swipes: Callable[[int], Sequence[Message]]
) -> tuple[MessageView, ...]:
    """The branch as views; ``swipes(id)`` lists a character line's kept alternatives."""
    views: list[MessageView] = []
    for message in branch:
        alternatives = swipes(message.id) if message.role == "assistant" else [message]
        ids = [alternative.id for alternative in alternatives]
        views.append(
            MessageView(
                id=message.id,
                parent_id=message.parent_id,
                role=message.role,
                content=message.content,
                swipe_index=ids.index(message.id) + 1,
                swipe_count=len(ids),
                metadata=dict(message.metadata),
            )
        )
    return tuple(views)


def play_stream(
    stream: ReplyStream,
    on_piece: Callable[[str], None],
    view: Callable[[], ConversationView],
    pieces: Iterable[str] | None = None,
) -> TurnOutcome:
    """Iterate ``stream`` (or ``pieces``, when the caller reads it another way), handing each
    piece to ``on_piece``; the pipeline stores the reply, and ``view()`` shows the
    conversation after it."""
    for piece in stream if pieces is None else pieces:
        on_piece(piece)
    result = stream.result
    return TurnOutcome(
        view=view(),
        stats=stream.stats,
        prepared=stream.prepared,
        message_id=result.message.id if result and result.message else None,
        interrupted=result.interrupted if result else True,
    )


def user_labels(branch: Sequence[Message], session: Session) -> dict[int, str]:
    """Each user message's sender (message id -> name): the name stored with the message
    (``roleplay.pipeline.speaker_name``), so a persona switch does not rename older lines."""
    from roleplay.pipeline import speaker_name

    return {
        message.id: speaker_name(message, session.user_name)
        for message in branch
        if message.role == "user"
    }


def _up_to(view: ConversationView, message_id: int | None) -> ConversationView:
    """``view`` cut just before ``message_id`` (default: before the last reply)."""
    target = view.find(message_id) if message_id is not None else view.last_reply()
    if target is None:
        return view
    return replace(view, messages=view.messages[: view.messages.index(target)])


@dataclass(frozen=True)
class Identity:
    """Who the user plays: a name, and for a saved persona its description and id (the
    persona's name, as ``roleplay chat --persona`` stores it)."""

    name: str
    description: str = ""
    persona_id: str | None = None

    @property
    def is_persona(self) -> bool:
        return self.persona_id is not None


def open_chat(
    pipeline: ChatPipeline,
    target: ChatTarget,
    user_name: str,
    persona_description: str = "",
    *,
    persona_id: str | None = None,
) -> ChatSession:
    """Start a conversation with a card, or resume a saved one. ``persona_description`` and
    ``persona_id``: the played persona's (``--persona`` or chosen in the app), stored with a
    new session."""
    if target.session_id is not None:
        return ChatSession(pipeline.resume(target.session_id))
    from roleplay.pipeline import PersonaInfo

    assert target.card_path is not None
    persona = (
        PersonaInfo(user_name, persona_description, persona_id=persona_id)
        if persona_description or persona_id is not None
        else None
    )
    return ChatSession(pipeline.start(target.card_path, user_name=user_name, persona=persona))
