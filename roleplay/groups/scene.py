"""A group scene: several characters and the user in one session.

Each character is a ``SceneMember``, a ``Conversation`` with its own card prompt, steering
and memory that sees the scene from its own seat:

- its own lines are the model's (``assistant``) turns; the user's and the other characters'
  lines come as input, prefixed with the speaker's name, so the model answers them instead
  of continuing them;
- it sees only what happened while it was present: every message stores who was present
  (``metadata["present"]``), and a character's prompt, memory writes and profile learning
  follow that list. A character that joins later does not know what was said before it came,
  and one that left does not learn what was said after.

The scene's state (members, who is present, who is muted, the speaker order) lives in the
session's metadata under ``group``, so ``roleplay chat --session ID`` reopens it.

With an ``EchoGuard`` (``roleplay.groups.echo``), a line that repeats what its speaker heard
from the others is generated again before it is stored; ``reply`` and ``regenerate`` return
a ``GuardedReply`` whose events tell a face about each attempt.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats
from roleplay.errors import RoleplayError
from roleplay.groups.echo import EchoGuard, GuardedReply, ReplyListener
from roleplay.groups.speakers import (
    SceneSeat,
    SpeakerOrder,
    check_order,
    name_aliases,
    next_speakers,
    talkativeness,
)
from roleplay.pipeline import (
    DEFAULT_USER_NAME,
    ChatPipeline,
    Conversation,
    PersonaInfo,
    PreparedTurn,
    TurnResult,
    reply_settings,
    select_swipe,
    speaker_name,
)
from roleplay.prompting.builder import SceneContext
from roleplay.sessions import Message, Session, SessionStore

GROUP_KEY = "group"
MAX_MEMBERS = 8

# Where a reply attempt goes instead of the store: (text, stats, interrupted).
DraftRecorder = Callable[[str, GenerationStats, bool], None]


@runtime_checkable
class SceneMemory(Protocol):
    """A memory that can keep what a character witnessed (``roleplay.features.ChatMemory``)."""

    def remember_scene(
        self, lines: Sequence[tuple[str, str]], session_id: str, moment: str
    ) -> None: ...


@dataclass
class MemberRecord:
    name: str  # the card's display name; unique in a scene
    card_ref: str  # the card file


@dataclass
class GroupState:
    members: list[MemberRecord]
    present: list[str]
    muted: list[str] = field(default_factory=list)
    order: SpeakerOrder = "natural"

    def as_metadata(self) -> dict[str, Any]:
        return {
            "members": [{"name": m.name, "card_ref": m.card_ref} for m in self.members],
            "present": list(self.present),
            "muted": list(self.muted),
            "order": self.order,
        }

    @classmethod
    def from_metadata(cls, data: Any, session_id: str) -> GroupState:
        try:
            members = [MemberRecord(str(m["name"]), str(m["card_ref"])) for m in data["members"]]
            present = [str(name) for name in data["present"]]
            muted = [str(name) for name in data.get("muted", [])]
            order = check_order(str(data.get("order", "natural")))
        except (KeyError, TypeError, RoleplayError) as error:
            raise RoleplayError(
                f"session {session_id}: its group record is damaged ({error})"
            ) from error
        return cls(members, present, muted, order)


def is_group_session(session: Session) -> bool:
    return GROUP_KEY in session.metadata


def group_cards(session: Session) -> tuple[GroupState, dict[str, Card]]:
    """The scene's state and every member's card, or a one-line error when a card file is
    gone or no longer parses (checked before any model loads)."""
    state = GroupState.from_metadata(session.metadata[GROUP_KEY], session.id)
    cards: dict[str, Card] = {}
    for member in state.members:
        path = Path(member.card_ref)
        if not path.is_file():
            raise RoleplayError(
                f"session {session.id}: {member.name}'s card {path} no longer exists; "
                "restore it to resume"
            )
        cards[member.name] = load_card(path)
    return state, cards


def _strip_own_name(text: str, name: str) -> str:
    """A reply that starts with its speaker's own label ("Mira: ...") loses the label."""
    return re.sub(rf"^\s*{re.escape(name)}\s*:\s*", "", text, count=1)


class SceneMember(Conversation):
    """One character of a group scene (see the module docstring)."""

    def __init__(
        self, pipeline: ChatPipeline, scene: GroupConversation, card: Card, **parts: Any
    ) -> None:
        self.group = scene
        super().__init__(pipeline, scene.session, card, **parts)
        self._draft: DraftRecorder | None = None
        self._kept_metadata: dict[str, Any] = {}

    # The scene owns the session record, so a refresh by any member is seen by all.
    @property  # type: ignore[override]
    def session(self) -> Session:
        return self.group.session

    @session.setter
    def session(self, value: Session) -> None:
        self.group.session = value

    @property
    def name(self) -> str:
        return self.raw_card.name

    def sees(self, message: Message) -> bool:
        present = message.metadata.get("present")
        return present is None or self.name in present

    def view(self, branch: Sequence[Message]) -> tuple[list[ChatMessage], str, list[str]]:
        """The branch from this character's seat: (history, the input to answer, the user's
        turns for the mood). Consecutive input lines are merged into one message."""
        lines: list[ChatMessage] = []
        user_turns: list[str] = []
        for message in branch:
            if not self.sees(message):
                continue
            if message.role == "assistant" and message.metadata.get("speaker") == self.name:
                lines.append(ChatMessage("assistant", message.content))
                continue
            if message.role == "assistant":
                speaker = str(message.metadata.get("speaker", "Someone"))
                text = f"{speaker}: {message.content}"
            elif message.role == "user":
                text = f"{speaker_name(message, self.session.user_name)}: {message.content}"
                user_turns.append(message.content)
            else:
                text = f"({message.content})"
            if lines and lines[-1].role == "user":
                lines[-1] = ChatMessage("user", f"{lines[-1].content}\n{text}")
            else:
                lines.append(ChatMessage("user", text))
        if lines and lines[-1].role == "user":
            latest = lines.pop().content
        else:
            latest = f"(The scene goes on; it is {self.name}'s turn.)"
        return lines, latest, [*user_turns] or [latest]

    def heard(self, branch: Sequence[Message]) -> list[str]:
        """What the others said in ``branch`` that this character witnessed: the user's and
        the other characters' lines (not scene events); the echo guard's reference."""
        return [
            message.content
            for message in branch
            if self.sees(message)
            and (
                message.role == "user"
                or (message.role == "assistant" and message.metadata.get("speaker") != self.name)
            )
        ]

    def clean_reply(self, text: str) -> str:
        """A generated reply as it would be stored (its own name label removed)."""
        return _strip_own_name(text, self.name).strip()

    def prepare_scene_turn(self, branch: Sequence[Message]) -> PreparedTurn:
        history, latest, user_turns = self.view(branch)
        others = [name for name in self.group.state.present if name != self.name]
        context = SceneContext((*others, self.session.user_name))
        return self._prepare_chat(history, latest, user_turns, scene=context)

    def _settings(self, seed: int | None) -> GenerationSettings:
        base = reply_settings(self.pipeline.settings, self.session.user_name, seed)
        # Stop where the model starts someone else's line.
        others = tuple(
            f"\n{member.name}:" for member in self.group.state.members if member.name != self.name
        )
        return replace(base, stop_strings=(*base.stop_strings, *others))

    def _reply_metadata(self) -> dict[str, Any]:
        return {
            "speaker": self.name,
            "present": list(self.group.state.present),
            **self._kept_metadata,
        }

    @contextmanager
    def drafting(self, record: DraftRecorder) -> Iterator[None]:
        """While inside, a finished reply goes to ``record``, not to the session, memory or
        the safety rating (an echo-guard attempt that may be rejected)."""
        self._draft = record
        try:
            yield
        finally:
            self._draft = None

    def store_kept(
        self,
        parent: Message,
        text: str,
        prepared: PreparedTurn,
        stats: GenerationStats,
        interrupted: bool,
        extra_metadata: dict[str, Any],
    ) -> TurnResult:
        """Store the attempt the echo guard kept, as a plain reply is stored."""
        self._kept_metadata = extra_metadata
        try:
            return self._store_reply(parent, text, prepared, stats, interrupted)
        finally:
            self._kept_metadata = {}

    def _store_reply(
        self,
        parent: Message,
        text: str,
        prepared: PreparedTurn,
        stats: GenerationStats,
        interrupted: bool,
    ) -> TurnResult:
        if self._draft is not None:
            self._draft(text, stats, interrupted)
            return TurnResult(message=None, stats=stats, prepared=prepared, interrupted=interrupted)
        return super()._store_reply(
            parent, _strip_own_name(text, self.name), prepared, stats, interrupted
        )

    def _remember(self, parent: Message, reply_text: str) -> None:
        self.group.remember(self, parent, reply_text)


class GroupConversation:
    """Several characters and the user in one session (see the module docstring)."""

    def __init__(
        self,
        pipeline: ChatPipeline,
        session: Session,
        state: GroupState,
        cards: dict[str, Card],
        *,
        rng: random.Random | None = None,
        echo_guard: EchoGuard | None = None,
    ) -> None:
        """``echo_guard``: generate a line that echoes the others again (None: never; a face
        may set ``self.echo_guard`` later, ``roleplay.groups.echo``)."""
        self.pipeline = pipeline
        self.session = session
        self.state = state
        self.rng = rng or random.Random()
        self.echo_guard = echo_guard
        self._members: dict[str, SceneMember] = {}
        self._cards = dict(cards)
        self._lock = threading.Lock()

    # Members ------------------------------------------------------------------------------

    @property
    def store(self) -> SessionStore:
        return self.pipeline.store

    @property
    def names(self) -> list[str]:
        return [member.name for member in self.state.members]

    def member(self, name: str) -> SceneMember:
        """The member ``name`` names (its name, a word of it, or a prefix; any case)."""
        key = self.resolve(name)
        with self._lock:
            if key not in self._members:
                card = self._cards[key]
                self._members[key] = SceneMember(
                    self.pipeline, self, card, **self.pipeline.parts_for(card)
                )
            return self._members[key]

    def resolve(self, name: str) -> str:
        wanted = name.strip().casefold()
        for candidate in self.names:
            if candidate.casefold() == wanted:
                return candidate
        by_alias = [c for c in self.names if wanted in (a.casefold() for a in name_aliases(c))]
        if len(by_alias) == 1:
            return by_alias[0]
        prefixed = [c for c in self.names if c.casefold().startswith(wanted)] if wanted else []
        if len(prefixed) == 1:
            return prefixed[0]
        raise RoleplayError(
            f"{name!r} is not in this scene; its characters are {', '.join(self.names)}"
        )

    def seats(self) -> list[SceneSeat]:
        """The present characters, in the scene's order, as the speaker choice sees them."""
        return [
            SceneSeat(
                name=name,
                talkativeness=talkativeness(self._cards[name]),
                aliases=name_aliases(name),
                muted=name in self.state.muted,
            )
            for name in self.names
            if name in self.state.present
        ]

    def _save_state(self) -> None:
        self.store.update_session_metadata(self.session.id, {GROUP_KEY: self.state.as_metadata()})
        self.refresh()

    def refresh(self) -> Session:
        self.session = self.store.get_session(self.session.id)
        return self.session

    def messages(self) -> list[Message]:
        return self.store.branch(self.session.id)

    # Scene changes ------------------------------------------------------------------------

    def join(self, card_path: Path) -> str:
        """Bring a character into the scene (a new one, or one that left)."""
        card = load_card(card_path)
        if card.name in self.names:
            if card.name in self.state.present:
                raise RoleplayError(f"{card.name} is already in the scene")
        elif len(self.state.members) >= MAX_MEMBERS:
            raise RoleplayError(f"a scene holds at most {MAX_MEMBERS} characters")
        else:
            self.state.members.append(MemberRecord(card.name, str(card_path.resolve())))
            self._cards[card.name] = card
        self.state.present.append(card.name)
        self._event("join", card.name, f"{card.name} joins the scene.")
        return card.name

    def leave(self, name: str) -> str:
        key = self.resolve(name)
        if key not in self.state.present:
            raise RoleplayError(f"{key} has already left the scene")
        if len(self.state.present) == 1:
            raise RoleplayError(f"{key} is the last character in the scene; end the chat instead")
        self.state.present.remove(key)
        self._event("leave", key, f"{key} leaves the scene.")
        return key

    def mute(self, name: str, muted: bool = True) -> str:
        key = self.resolve(name)
        if muted and key not in self.state.muted:
            self.state.muted.append(key)
        elif not muted and key in self.state.muted:
            self.state.muted.remove(key)
        self._save_state()
        return key

    def set_order(self, order: str) -> None:
        self.state.order = check_order(order)
        self._save_state()

    def use_persona(self, persona: PersonaInfo) -> None:
        """The user plays ``persona`` from now on (every member's ``{{user}}`` follows)."""
        if not persona.name.strip():
            raise RoleplayError("the persona's name must not be empty")
        self.store.update_session_user(
            self.session.id, persona.name, {"persona": persona.as_metadata()}
        )
        self.refresh()
        for member in self._members.values():
            member.card = member.raw_card.substituted(persona.name)

    def _event(self, kind: str, name: str, text: str) -> None:
        # One write for the event and the new state would be nicer; two short transactions
        # are safe here because a reader that sees the event without the state only misses
        # the presence change until the next refresh.
        self.store.append_message(
            self.session.id,
            "system",
            text,
            metadata={"event": kind, "character": name, "present": list(self.state.present)},
        )
        self._save_state()

    # Turns --------------------------------------------------------------------------------

    def send(self, user_message: str) -> Message:
        """Commit the user's message (everyone present hears it; their profiles learn)."""
        if not user_message.strip():
            raise RoleplayError("the message is empty")
        message = self.store.append_message(
            self.session.id,
            "user",
            user_message,
            metadata={"present": list(self.state.present), "user_name": self.session.user_name},
        )
        self.refresh()
        if self.pipeline.profile_factory is None:
            return message  # nothing learns: no need to build every member's parts now
        for name in self.state.present:
            profile = self.member(name).profile
            if profile is not None:
                profile.observe_user_message(
                    user_message, session_id=self.session.id, message_id=message.id
                )
        return message

    def next_speakers(self) -> list[str]:
        """Who answers the message at the head, in order (the speaker order decides)."""
        branch = self.messages()
        spoken = [m for m in branch if m.role in ("user", "assistant")]
        if not spoken:
            return next_speakers(
                self.seats(), self.state.order, last_text="", last_speaker=None, rng=self.rng
            )
        last = spoken[-1]
        last_speaker = str(last.metadata.get("speaker")) if last.role == "assistant" else None
        if self.state.order == "round-robin" and last_speaker is None:
            # After the user, the turn goes on from the character who spoke last.
            last_speaker = next(
                (str(m.metadata["speaker"]) for m in reversed(spoken) if m.role == "assistant"),
                None,
            )
        return next_speakers(
            self.seats(),
            self.state.order,
            last_text=last.content,
            last_speaker=last_speaker,
            rng=self.rng,
        )

    def reply(
        self,
        name: str,
        *,
        seed: int | None = None,
        cancel: threading.Event | None = None,
        on_event: ReplyListener | None = None,
    ) -> GuardedReply:
        """``name`` speaks now, answering everything since its last line (through the echo
        guard; ``on_event`` hears of every attempt, ``roleplay.groups.echo``)."""
        key = self.resolve(name)
        if key not in self.state.present:
            raise RoleplayError(f"{key} is not in the scene now; /join {key} first")
        branch = self.messages()
        if not branch:
            raise RoleplayError("the scene is empty; send a message first")
        member = self.member(key)
        return self._guarded(member, branch, seed, cancel, on_event)

    def regenerate(
        self,
        message_id: int | None = None,
        *,
        seed: int | None = None,
        cancel: threading.Event | None = None,
        on_event: ReplyListener | None = None,
    ) -> GuardedReply:
        """A new alternative (swipe) for a character's line, by the same character (through
        the echo guard, as ``reply``)."""
        target = self.line(message_id)
        if target.parent_id is None:
            raise RoleplayError("the opening line has nothing to answer; send a message first")
        parent = self.store.get_message(target.parent_id)
        speaker = str(target.metadata.get("speaker"))
        member = self.member(speaker)
        branch = self.store.branch(self.session.id, parent.id)
        return self._guarded(member, branch, seed, cancel, on_event)

    def _guarded(
        self,
        member: SceneMember,
        branch: Sequence[Message],
        seed: int | None,
        cancel: threading.Event | None,
        on_event: ReplyListener | None,
    ) -> GuardedReply:
        """``member``'s answer to the last message of ``branch``."""
        return GuardedReply(
            member,
            branch[-1],
            member.prepare_scene_turn(branch),
            heard=member.heard(branch),
            guard=self.echo_guard,
            seed=seed,
            cancel=cancel,
            on_event=on_event,
        )

    def swipes(self, message_id: int | None = None) -> list[Message]:
        return self.store.siblings(self.line(message_id).id)

    def swipe(self, index: int, message_id: int | None = None) -> Message:
        """Show kept version ``index`` (1-based) of a character's line."""
        chosen = select_swipe(self.store, self.session.id, self.swipes(message_id), index)
        self.refresh()
        return chosen

    def line(self, message_id: int | None = None) -> Message:
        if message_id is not None:
            message = self.store.get_message(message_id)
            if message.session_id != self.session.id or message.role != "assistant":
                raise RoleplayError(f"message {message_id} is not a character's line here")
            return message
        for message in reversed(self.messages()):
            if message.role == "assistant":
                return message
        raise RoleplayError("no character has spoken yet")

    def remember(self, speaker: SceneMember, parent: Message, reply_text: str) -> None:
        """Everyone present keeps what they witnessed: the line answered and the reply."""
        said_by = (
            speaker_name(parent, self.session.user_name)
            if parent.role == "user"
            else str(parent.metadata.get("speaker", "Someone"))
        )
        lines = [(said_by, parent.content), (speaker.name, reply_text)]
        moment = f"{parent.id}:{speaker.name}"  # a regenerated line replaces its memory
        for name in list(self.state.present):
            memory = self.member(name).memory
            if isinstance(memory, SceneMemory):
                memory.remember_scene(lines, self.session.id, moment)
            elif memory is not None and name == speaker.name:
                turn = sum(1 for m in self.messages() if m.role == "user") - 1
                memory.remember_exchange(parent.content, reply_text, self.session.id, turn)


def check_members(card_paths: Sequence[Path]) -> dict[str, Card]:
    """The cards of a new scene by name: two to ``MAX_MEMBERS``, each character once."""
    if len(card_paths) < 2:
        raise RoleplayError("a group scene needs at least two characters (-c a,b)")
    if len(card_paths) > MAX_MEMBERS:
        raise RoleplayError(f"a scene holds at most {MAX_MEMBERS} characters")
    cards: dict[str, Card] = {}
    for path in card_paths:
        card = load_card(path)
        if card.name in cards:
            raise RoleplayError(f"{card.name} is named twice; each character joins a scene once")
        cards[card.name] = card
    return cards


def start_group(
    pipeline: ChatPipeline,
    card_paths: Sequence[Path],
    *,
    user_name: str = DEFAULT_USER_NAME,
    persona: PersonaInfo | None = None,
    order: str = "natural",
    greeting: bool = True,
    rng: random.Random | None = None,
    echo_guard: EchoGuard | None = None,
) -> GroupConversation:
    """A new group scene; the first character's greeting opens it."""
    if persona is not None:
        user_name = persona.name
    if not user_name.strip():
        raise RoleplayError("the user name must not be empty (--user)")
    cards = check_members(card_paths)
    members = [
        MemberRecord(name, str(path.resolve()))
        for name, path in zip(cards, card_paths, strict=True)
    ]
    state = GroupState(members, [m.name for m in members], [], check_order(order))
    metadata: dict[str, Any] = {GROUP_KEY: state.as_metadata()}
    if persona is not None:
        metadata["persona"] = persona.as_metadata()
    session = pipeline.store.create_session(
        character=", ".join(cards),
        card_ref=members[0].card_ref,
        model_id=pipeline.engine.model_id,
        user_name=user_name,
        metadata=metadata,
    )
    scene = GroupConversation(pipeline, session, state, cards, rng=rng, echo_guard=echo_guard)
    first = members[0].name
    opening = cards[first].substituted(user_name).greeting
    if greeting and opening:
        pipeline.store.append_message(
            session.id,
            "assistant",
            opening,
            parent_id=None,
            metadata={"speaker": first, "present": list(state.present)},
        )
        scene.refresh()
    return scene


def resume_group(
    pipeline: ChatPipeline,
    session_id: str,
    *,
    rng: random.Random | None = None,
    echo_guard: EchoGuard | None = None,
) -> GroupConversation:
    session = pipeline.store.get_session(session_id)
    if not is_group_session(session):
        raise RoleplayError(f"session {session_id} is a one-to-one chat, not a group scene")
    state, cards = group_cards(session)
    return GroupConversation(pipeline, session, state, cards, rng=rng, echo_guard=echo_guard)
