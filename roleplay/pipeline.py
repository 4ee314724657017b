"""One turn, one path: every face (CLI, TUI, audit, evaluation, dialogue) chats through here.

    user message -> session store (committed) -> mood + memory recall -> prompt builder
    -> controller (steering + logits processors) -> engine stream -> session store (reply)
    -> memory (store the exchange)

Faces iterate a ``ReplyStream`` and render its pieces; they hold no business logic.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from roleplay.cards.loader import load_card
from roleplay.cards.model import Card
from roleplay.engine.base import (
    ChatMessage,
    Engine,
    GenerationSettings,
    GenerationStats,
)
from roleplay.errors import RoleplayError
from roleplay.prompting.builder import (
    DEFAULT_MEMORY_POSITION,
    BuiltPrompt,
    LoreSnippet,
    MemoryPosition,
    MemorySnippet,
    PromptBuilder,
    PromptLayout,
    SceneContext,
)
from roleplay.sessions import Message, Session, SessionStore

DEFAULT_USER_NAME = "User"


class MemoryPort(Protocol):
    """What the pipeline needs from long-term memory (see roleplay.memory)."""

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        """Memories for this turn (best first) and the detected mood.

        ``recent_user_turns`` is every user turn of the branch, oldest first, ending with
        ``query``; the memory keeps its own mood window of them (``mood.window`` in
        ``roleplay/memory/data/memory_defaults.yaml``).
        """
        ...

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None: ...


class ControlPort(Protocol):
    """What the pipeline needs from the latent-attribute controller (see roleplay.control).

    ``grammar_text`` and ``prompt_guidance`` are optional: a controller without them
    constrains nothing by grammar text and adds nothing to the prompt.
    """

    def steering(self) -> AbstractContextManager[Any]: ...

    def logits_processors(self) -> list[Any]: ...

    def describe(self) -> dict[str, Any]: ...


class SafetyPort(Protocol):
    """Rates a finished reply; the rating is stored with it (flag, never silently drop)."""

    def rate(self, text: str) -> dict[str, Any]: ...


class LorePort(Protocol):
    def scan(self, messages: Sequence[ChatMessage]) -> list[LoreSnippet]: ...


class ProfilePort(Protocol):
    """What one character has learned about one user (see roleplay.profile).

    ``facts_for_turn`` gives the current facts worth knowing for this message, best first
    (superseded ones are history, never returned); ``observe_user_message`` learns from a
    message the user committed (a statement that contradicts an older one supersedes it).
    """

    def facts_for_turn(self, query: str) -> list[str]: ...

    def observe_user_message(self, text: str, *, session_id: str, message_id: int) -> None: ...


MemoryFactory = Callable[[Card], MemoryPort | None]
# (card, user name) -> the profile that character keeps of that user.
ProfileFactory = Callable[[Card, str], ProfilePort | None]
ControlFactory = Callable[[Card], ControlPort | None]
LoreFactory = Callable[[Card], LorePort | None]


@dataclass(frozen=True)
class PersonaInfo:
    """Who the user plays (``roleplay persona``): the name fills ``{{user}}``."""

    name: str
    description: str = ""
    persona_id: str | None = None

    def as_metadata(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "id": self.persona_id}


@dataclass
class PreparedTurn:
    """Everything decided before generation; ``roleplay prompt`` prints it."""

    prompt: BuiltPrompt
    mood: dict[str, float] = field(default_factory=dict)
    controls: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnResult:
    message: Message | None  # None when nothing was generated before an interruption
    stats: GenerationStats
    prepared: PreparedTurn
    interrupted: bool


def reply_settings(
    base: GenerationSettings, user_name: str, seed: int | None = None
) -> GenerationSettings:
    """The settings for one character reply: stop where the model starts the user's turn."""
    stops = (f"\n{user_name}:", *base.stop_strings)
    return replace(base, seed=seed if seed is not None else base.seed, stop_strings=stops)


def _chat_role(message: Message) -> ChatMessage:
    return ChatMessage(message.role, message.content)


class StreamConsumedError(RoleplayError):
    """A ``ReplyStream`` was iterated a second time (it generates exactly one reply)."""


class ReplyStream:
    """Iterate to receive the reply's text pieces; ``result`` is set when iteration ends.

    Interruption (Ctrl+C, a closed generator, ``cancel``) keeps what was generated: the
    partial reply is stored with ``interrupted: true`` so the session stays consistent.
    A stream generates one reply: iterating it again raises ``StreamConsumedError``
    (ask the conversation for another stream, e.g. ``regenerate``, for a new reply).
    """

    def __init__(
        self,
        conversation: Conversation,
        parent: Message,
        prepared: PreparedTurn,
        settings: GenerationSettings,
        cancel: threading.Event | None,
        on_generated: Callable[[], None] | None = None,
    ) -> None:
        self._conversation = conversation
        self._parent = parent
        self.prepared = prepared
        self._settings = settings
        self._cancel = cancel
        self._on_generated = on_generated  # called when the engine is done, before storing
        self.stats = GenerationStats()
        self.result: TurnResult | None = None
        self._started = False

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise StreamConsumedError(
                "this reply stream was already iterated; it generates one reply only "
                "(send, regenerate or reply_to_head give a new stream)"
            )
        self._started = True
        return self._generate()

    def _generate(self) -> Iterator[str]:
        pipeline = self._conversation.pipeline
        controller = self._conversation.controller
        pieces: list[str] = []
        steering = controller.steering() if controller else contextlib.nullcontext()
        processors = controller.logits_processors() if controller else []
        grammar_text = getattr(controller, "grammar_text", None)
        grammar = grammar_text() if grammar_text is not None else None
        finished = failed = False
        try:
            with steering:
                for event in pipeline.engine.stream(
                    self.prepared.prompt.text,
                    self._settings,
                    messages=self.prepared.prompt.messages,
                    logits_processors=processors,
                    grammar=grammar,
                    cancel=self._cancel,
                    stats=self.stats,
                ):
                    pieces.append(event.text)
                    yield event.text
            finished = True
            if self._on_generated is not None:
                self._on_generated()
        except Exception:
            # Generation failed (a server died mid-reply, any error in the engine): the
            # user's message stays, no half reply is stored as if it had been said. The user
            # stopping it (Ctrl+C, a closed generator) is not an Exception: that keeps the
            # partial reply, marked interrupted.
            failed = True
            raise
        finally:
            interrupted = not finished or self.stats.stop_reason == "cancelled"
            self.result = self._conversation._store_reply(
                self._parent,
                "" if failed else "".join(pieces),
                self.prepared,
                self.stats,
                interrupted,
            )

    def text(self) -> str:
        """Consume the whole stream and return the reply text."""
        return "".join(self)


@dataclass
class ConversationParts:
    memory: MemoryPort | None = None
    controller: ControlPort | None = None
    lore: LorePort | None = None


class PendingParts:
    """A conversation's parts built on a background thread (see ``ChatPipeline``).

    Memory (ChromaDB, the sentence encoder) and steering vectors take seconds to load; an
    interactive chat shows its prompt at once and joins this before the first reply. An
    error raised while building is raised again where the parts are first needed.
    """

    def __init__(self, build: Callable[[], ConversationParts]) -> None:
        self._build = build
        self._parts: ConversationParts | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="conversation-parts", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._parts = self._build()
        except BaseException as error:  # re-raised in the caller's thread by get()
            self._error = error

    def get(self) -> ConversationParts:
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._parts is not None
        return self._parts


class Conversation:
    """A session bound to its card, its memory and its controller."""

    def __init__(
        self,
        pipeline: ChatPipeline,
        session: Session,
        card: Card,
        *,
        memory: MemoryPort | None = None,
        controller: ControlPort | None = None,
        lore: LorePort | None = None,
        pending: PendingParts | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.session = session
        self.raw_card = card
        self.card = card.substituted(session.user_name)
        self._parts = ConversationParts(memory, controller, lore)
        self._pending = pending
        self._profile: ProfilePort | None = None
        self._profile_user: str | None = None
        # A character in a scene with others (roleplay.dialogue's scenes set it).
        self.scene_context: SceneContext | None = None

    @property
    def profile(self) -> ProfilePort | None:
        """What this character has learned about the session's user (None: not kept)."""
        factory = self.pipeline.profile_factory
        if factory is None:
            return None
        if self._profile_user != self.session.user_name:  # built again after a persona switch
            self._profile = factory(self.raw_card, self.session.user_name)
            self._profile_user = self.session.user_name
        return self._profile

    @property
    def user_description(self) -> str:
        """The active persona's description, as stored with the session ("" for none)."""
        persona = self.session.metadata.get("persona")
        if isinstance(persona, dict):
            return str(persona.get("description") or "")
        return ""

    def use_persona(self, name: str, description: str, *, persona_id: str | None = None) -> None:
        """Switch who the user is from now on: ``{{user}}``, the persona's description and
        the profile the character keeps of them (earlier messages stay as they were)."""
        if not name.strip():
            raise RoleplayError("the persona's name must not be empty")
        persona = PersonaInfo(name, description, persona_id)
        self.store.update_session_user(self.session.id, name, {"persona": persona.as_metadata()})
        self.refresh()
        self.card = self.raw_card.substituted(name)

    def _ready_parts(self) -> ConversationParts:
        if self._pending is not None:
            self._parts = self._pending.get()
            self._pending = None
        return self._parts

    @property
    def memory(self) -> MemoryPort | None:
        return self._ready_parts().memory

    @property
    def controller(self) -> ControlPort | None:
        return self._ready_parts().controller

    @property
    def lore(self) -> LorePort | None:
        return self._ready_parts().lore

    @property
    def store(self) -> SessionStore:
        return self.pipeline.store

    def refresh(self) -> Session:
        self.session = self.store.get_session(self.session.id)
        return self.session

    def messages(self) -> list[Message]:
        """The conversation in view (root to head)."""
        return self.store.branch(self.session.id)

    # Preparing ----------------------------------------------------------------------------

    def prepare(self, user_message: str, history: Sequence[Message] | None = None) -> PreparedTurn:
        """Build the prompt for ``user_message`` after ``history`` (default: the branch in view)."""
        if not user_message.strip():
            raise RoleplayError("the message is empty")
        past = list(self.messages() if history is None else history)
        chat_history = [_chat_role(message) for message in past]
        # Every user turn: the memory keeps its own mood window (memory_defaults.yaml).
        recent_user_turns = [*(m.content for m in past if m.role == "user"), user_message]
        return self._prepare_chat(chat_history, user_message, recent_user_turns)

    def _prepare_chat(
        self,
        chat_history: Sequence[ChatMessage],
        user_message: str,
        recent_user_turns: Sequence[str],
        *,
        scene: SceneContext | None = None,
    ) -> PreparedTurn:
        """The prompt for ``user_message`` after ``chat_history`` as this character sees it
        (a group scene passes its own view of the branch and the others' names)."""
        memories: list[MemorySnippet] = []
        mood: dict[str, float] = {}
        if self.memory is not None:
            memories, mood = self.memory.recall_for_turn(user_message, recent_user_turns)
        lore: list[LoreSnippet] = []
        if self.lore is not None:
            lore = self.lore.scan([*chat_history, ChatMessage("user", user_message)])
        guidance = getattr(self.controller, "prompt_guidance", None)
        profile = self.profile
        prompt = self.pipeline.builder.build(
            self.card,
            self.session.user_name,
            chat_history,
            user_message,
            memories=memories,
            lore=lore,
            steering_guidance=guidance() if guidance is not None else (),
            user_description=self.user_description,
            user_facts=profile.facts_for_turn(user_message) if profile is not None else (),
            scene=scene if scene is not None else self.scene_context,
        )
        controls = self.controller.describe() if self.controller else {}
        return PreparedTurn(prompt=prompt, mood=mood, controls=controls)

    def _settings(self, seed: int | None) -> GenerationSettings:
        return reply_settings(self.pipeline.settings, self.session.user_name, seed)

    # Turns --------------------------------------------------------------------------------

    def send(
        self, user_message: str, *, seed: int | None = None, cancel: threading.Event | None = None
    ) -> ReplyStream:
        """Commit the user's message, then stream the character's reply to it."""
        history = self.messages()
        prepared = self.prepare(user_message, history)
        user = self.store.append_message(
            self.session.id, "user", user_message, metadata=self._said_as()
        )
        self._observe(user)
        return ReplyStream(self, user, prepared, self._settings(seed), cancel)

    def _said_as(self) -> dict[str, Any]:
        """A user message keeps the name it was sent under, so a later persona switch does
        not relabel it (``speaker_name``)."""
        return {"user_name": self.session.user_name}

    def _observe(self, message: Message) -> None:
        """The character learns about the user from a committed message (profile)."""
        profile = self.profile
        if profile is not None:
            profile.observe_user_message(
                message.content, session_id=self.session.id, message_id=message.id
            )

    def regenerate(
        self,
        message_id: int | None = None,
        *,
        seed: int | None = None,
        cancel: threading.Event | None = None,
    ) -> ReplyStream:
        """A new alternative (swipe) for a character message (default: the latest one)."""
        target = self._reply_to_regenerate(message_id)
        if target.parent_id is None:
            raise RoleplayError("the greeting has no user message to answer; send a message first")
        parent = self.store.get_message(target.parent_id)
        history = self.store.branch(self.session.id, parent.id)[:-1]
        prepared = self.prepare(parent.content, history)
        return ReplyStream(self, parent, prepared, self._settings(seed), cancel)

    def reply_to_head(
        self, *, seed: int | None = None, cancel: threading.Event | None = None
    ) -> ReplyStream:
        """Answer the user message at the head (after an interrupted or failed reply)."""
        branch = self.messages()
        if not branch or branch[-1].role != "user":
            raise RoleplayError("the conversation does not end with a user message")
        prepared = self.prepare(branch[-1].content, branch[:-1])
        return ReplyStream(self, branch[-1], prepared, self._settings(seed), cancel)

    def edit_user_message(
        self,
        message_id: int,
        new_text: str,
        *,
        seed: int | None = None,
        cancel: threading.Event | None = None,
    ) -> ReplyStream:
        """Branch: a sibling of a user message with new text, then a reply to it."""
        original = self.store.get_message(message_id)
        if original.role != "user" or original.session_id != self.session.id:
            raise RoleplayError(f"message {message_id} is not a user message of this session")
        history = (
            self.store.branch(self.session.id, original.parent_id)
            if original.parent_id is not None
            else []
        )
        prepared = self.prepare(new_text, history)
        edited = self.store.append_message(
            self.session.id,
            "user",
            new_text,
            parent_id=original.parent_id,
            metadata={"edited_from": message_id, **self._said_as()},
        )
        self._observe(edited)
        return ReplyStream(self, edited, prepared, self._settings(seed), cancel)

    def _reply_to_regenerate(self, message_id: int | None) -> Message:
        if message_id is not None:
            message = self.store.get_message(message_id)
            if message.session_id != self.session.id or message.role != "assistant":
                raise RoleplayError(f"message {message_id} is not a reply in this session")
            return message
        for message in reversed(self.messages()):
            if message.role == "assistant":
                return message
        raise RoleplayError("there is no reply to regenerate yet")

    def swipes(self, message_id: int | None = None) -> list[Message]:
        """The kept alternatives of a reply (default: the latest reply), oldest first."""
        return self.store.siblings(self._reply_to_regenerate(message_id).id)

    def swipe(self, index: int, message_id: int | None = None) -> Message:
        """Show alternative ``index`` (1-based) of a reply; its own continuation comes along."""
        chosen = select_swipe(self.store, self.session.id, self.swipes(message_id), index)
        self.refresh()
        return chosen

    def _store_reply(
        self,
        parent: Message,
        text: str,
        prepared: PreparedTurn,
        stats: GenerationStats,
        interrupted: bool,
    ) -> TurnResult:
        reply_text = text.strip()
        message: Message | None = None
        if reply_text:
            metadata: dict[str, Any] = {
                "tokens": stats.new_tokens,
                "seconds": round(stats.seconds, 4),
                "ttft": round(stats.ttft, 4),
                "stop_reason": stats.stop_reason,
                "prompt_tokens": prepared.prompt.prompt_tokens,
                "dropped_messages": prepared.prompt.dropped_messages,
                "memories": [
                    {"id": m.memory_id, "score": round(m.score, 4), "text": m.text}
                    for m in prepared.prompt.memories
                ],
                "mood": prepared.mood,
                "controls": prepared.controls,
                **self._reply_metadata(),
            }
            if interrupted:
                metadata["interrupted"] = True
            if self.pipeline.safety is not None:
                metadata["toxicity"] = self.pipeline.safety.rate(reply_text)
            message = self.store.append_message(
                self.session.id, "assistant", reply_text, parent_id=parent.id, metadata=metadata
            )
            if not interrupted:
                self._remember(parent, reply_text)
        self.refresh()
        return TurnResult(message=message, stats=stats, prepared=prepared, interrupted=interrupted)

    def _reply_metadata(self) -> dict[str, Any]:
        """What a reply stores beyond the generation record (a group scene: who spoke)."""
        return {}

    def _remember(self, parent: Message, reply_text: str) -> None:
        """Long-term memory of a finished reply (a group scene: everyone present)."""
        if self.memory is not None:
            turn_index = sum(1 for m in self.messages() if m.role == "user") - 1
            self.memory.remember_exchange(parent.content, reply_text, self.session.id, turn_index)


def speaker_name(message: Message, current_user_name: str) -> str:
    """Who sent a user message: the name stored with it, else (older messages) the session's."""
    stored = message.metadata.get("user_name")
    return stored if isinstance(stored, str) and stored.strip() else current_user_name


def select_swipe(
    store: SessionStore, session_id: str, alternatives: Sequence[Message], index: int
) -> Message:
    """Put alternative ``index`` (1-based) of a message in view, with its own continuation."""
    if not 1 <= index <= len(alternatives):
        raise RoleplayError(f"no swipe {index}: there are {len(alternatives)}")
    chosen = alternatives[index - 1]
    store.set_head(session_id, store.latest_leaf(chosen.id))
    return chosen


def resumable_session(store: SessionStore, session_id: str) -> tuple[Session, Card]:
    """The stored session and its card, or a one-line error when it cannot be resumed (an
    unknown id, a card file since removed, a card that no longer parses)."""
    session = store.get_session(session_id)
    card_path = Path(session.card_ref)
    if not card_path.is_file():
        raise RoleplayError(
            f"session {session_id}: its card {card_path} no longer exists; restore it to resume"
        )
    return session, load_card(card_path)


class ChatPipeline:
    """Binds an engine and a session store; opens conversations with cards."""

    def __init__(
        self,
        engine: Engine,
        store: SessionStore,
        *,
        settings: GenerationSettings | None = None,
        memory_factory: MemoryFactory | None = None,
        control_factory: ControlFactory | None = None,
        lore_factory: LoreFactory | None = None,
        profile_factory: ProfileFactory | None = None,
        safety: SafetyPort | None = None,
        background_parts: bool = False,
        prompt_layout: PromptLayout = "system",
        character_notes: bool = True,
        memory_position: MemoryPosition = DEFAULT_MEMORY_POSITION,
        note_depth: int | None = None,
    ) -> None:
        """``prompt_layout``: where memories and lore go (``roleplay.prompting.builder``);
        ``character_notes``: re-assert the card's traits near the end of a long chat, at
        ``note_depth`` messages from the end (default: ``WRITTEN_NOTE_DEPTH``, 1);
        ``memory_position``: where memories go in the system block (same module).

        ``background_parts``: build each conversation's memory, controller and lore on a
        background thread (an interactive face shows its prompt meanwhile); errors then
        surface at the first use instead of at ``start``."""
        self.background_parts = background_parts
        self.engine = engine
        self.safety = safety
        self.store = store
        self.settings = settings or GenerationSettings()
        self.builder = PromptBuilder(
            engine,
            reply_tokens=self.settings.max_new_tokens,
            layout=prompt_layout,
            character_notes=character_notes,
            memory_position=memory_position,
            note_depth=note_depth,
        )
        self._memory_factory = memory_factory
        self._control_factory = control_factory
        self._lore_factory = lore_factory
        self.profile_factory = profile_factory

    def _parts(self, card: Card) -> ConversationParts:
        return ConversationParts(
            memory=self._memory_factory(card) if self._memory_factory else None,
            controller=self._control_factory(card) if self._control_factory else None,
            lore=self._lore_factory(card) if self._lore_factory else None,
        )

    def parts_for(self, card: Card) -> dict[str, Any]:
        """A conversation's parts for ``card`` as ``Conversation`` keyword arguments: built
        now, or on a background thread (``background_parts``)."""
        if self.background_parts:
            return {"pending": PendingParts(lambda: self._parts(card))}
        parts = self._parts(card)
        return {"memory": parts.memory, "controller": parts.controller, "lore": parts.lore}

    def _conversation(self, session: Session, card: Card) -> Conversation:
        return Conversation(self, session, card, **self.parts_for(card))

    def start(
        self,
        card_path: Path,
        *,
        user_name: str = DEFAULT_USER_NAME,
        greeting: bool = True,
        metadata: dict[str, Any] | None = None,
        persona: PersonaInfo | None = None,
    ) -> Conversation:
        """A new session; the card's greeting becomes the first message (alternates as swipes).

        With a ``persona`` its name is the user's name and its description is stored with
        the session, so a resumed chat is the same user whatever persona is active then."""
        if persona is not None:
            user_name = persona.name
        if not user_name.strip():
            raise RoleplayError("the user name must not be empty (--user)")
        card = load_card(card_path)
        session_metadata = dict(metadata or {})
        if persona is not None:
            session_metadata["persona"] = persona.as_metadata()
        session = self.store.create_session(
            character=card.name,
            card_ref=str(card_path.resolve()),
            model_id=self.engine.model_id,
            user_name=user_name,
            metadata=session_metadata,
        )
        conversation = self._conversation(session, card)
        if greeting and conversation.card.greeting:
            greetings = [conversation.card.greeting, *conversation.card.alternate_greetings]
            first = self.store.append_message(session.id, "assistant", greetings[0], parent_id=None)
            for alternate in greetings[1:]:
                self.store.append_message(
                    session.id, "assistant", alternate, parent_id=None, move_head=False
                )
            self.store.set_head(session.id, first.id)
            conversation.refresh()
        return conversation

    def resume(self, session_id: str) -> Conversation:
        session, card = resumable_session(self.store, session_id)
        return self._conversation(session, card)
