"""One served reply: the request reduced to a plan, then run on the model's worker thread.

``plan_turn`` runs on the event loop and checks everything that can be checked without the
pipeline, so a bad request is refused before it takes a place in the queue. ``TurnRunner``
runs on the worker thread (it owns the pipeline and its SQLite connection) and reports to the
event loop through a sink: ``Started`` once the prompt is built, then the reply's text
pieces, then ``Finished`` or ``Failed``. The route waits for ``Started`` before it answers,
so a failure while preparing (a prompt that cannot fit, a session of another character)
still gets its own HTTP status rather than an error in the middle of a 200 stream.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Literal

from roleplay.cards.model import Card
from roleplay.engine.base import BackendError, GenerationSettings, GenerationStats
from roleplay.errors import RoleplayError
from roleplay.pipeline import (
    DEFAULT_USER_NAME,
    ChatPipeline,
    Conversation,
    ConversationParts,
    PreparedTurn,
    ReplyStream,
    TurnResult,
    reply_settings,
)
from roleplay.serve.catalog import Character, CharacterCatalog
from roleplay.serve.errors import SERVER_ERROR, ApiError
from roleplay.serve.history import Turn, attach
from roleplay.serve.schemas import ChatCompletionRequest, HistoryPolicy
from roleplay.serve.sessions import SessionDirectory, client_name
from roleplay.sessions import Message, Session

log = logging.getLogger("roleplay.serve")

FinishReason = Literal["stop", "length"]
_ORIGINAL = re.compile(r"\{\{original\}\}", re.IGNORECASE)


@dataclass(frozen=True)
class TurnPlan:
    """What one request asks for, checked (built on the event loop)."""

    character: Character
    client: str
    turns: tuple[Turn, ...]  # ends with the user's new message
    history: HistoryPolicy
    system_text: str | None  # the client's system messages, when they are kept
    user_name: str
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    top_k: int | None
    repetition_penalty: float | None
    stop: tuple[str, ...]
    seed: int | None


@dataclass(frozen=True)
class Started:
    session_id: str
    prompt_tokens: int


@dataclass(frozen=True)
class Finished:
    session_id: str
    message_id: int | None
    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: FinishReason


@dataclass(frozen=True)
class Failed:
    error: ApiError


@dataclass(frozen=True)
class GenerationEnded:
    """The engine has produced the reply's last token; storing it comes next. For the sink
    only (``coalescing.CoalescingSink`` sends what it holds back): never relayed."""


TurnEvent = Started | str | Finished | Failed
Sink = Callable[[TurnEvent | GenerationEnded], None]


def plan_turn(
    request: ChatCompletionRequest, character: Character, headers: Mapping[str, str]
) -> TurnPlan:
    """The request's turn; ``ApiError`` (400) when its messages cannot make one."""
    options = request.roleplay
    system_parts: list[str] = []
    turns: list[Turn] = []
    for message in request.messages:
        text = message.text().strip()
        if message.role in ("system", "developer"):
            if text:
                system_parts.append(text)
        elif text:  # an empty message (a tool call's, say) holds nothing to role-play
            turns.append(Turn("user" if message.role == "user" else "assistant", text))
    if not turns or turns[-1].role != "user":
        raise ApiError(
            400,
            "the last message (system messages aside) must be the user's; "
            "continuing an unfinished reply is not supported",
            code="invalid_request",
            param="messages",
        )
    if options.history == "server":
        turns = turns[-1:]
    keep_system = options.system == "keep" and system_parts
    return TurnPlan(
        character=character,
        client=client_name(headers, request.user),
        turns=tuple(turns),
        history=options.history,
        system_text="\n\n".join(system_parts) if keep_system else None,
        user_name=options.user_name or DEFAULT_USER_NAME,
        max_tokens=request.reply_tokens(),
        temperature=request.temperature,
        top_p=request.top_p,
        top_k=request.top_k,
        repetition_penalty=request.repetition_penalty,
        stop=request.stop_strings(),
        seed=request.sampling_seed(),
    )


class ServedConversation(Conversation):
    """A conversation whose interrupted replies are dropped instead of stored.

    In ``roleplay chat`` an interrupted reply was the user's choice (Ctrl+C) and they saw
    it, so it is kept. A served reply is interrupted only when its client went away (or the
    engine failed): no front end shows those words, and the client will send its history
    again without them, so storing them would put words in the session nobody read.
    """

    def _store_reply(
        self,
        parent: Message,
        text: str,
        prepared: PreparedTurn,
        stats: GenerationStats,
        interrupted: bool,
    ) -> TurnResult:
        if interrupted:
            self.refresh()
            return TurnResult(message=None, stats=stats, prepared=prepared, interrupted=True)
        return super()._store_reply(parent, text, prepared, stats, interrupted)


def with_client_system(card: Card, text: str) -> Card:
    """The card with the client's system text after its opening instruction.

    The text goes where a card's own ``system_prompt`` goes (SillyTavern's "main prompt" is
    that kind of instruction); ``{{original}}`` in it is removed so that client text cannot
    pull in or move the server's opening. It stays data: the prompt template never compiles it.
    """
    opening = card.system_prompt or "{{original}}"
    client = _ORIGINAL.sub("", text).strip()
    return card.model_copy(update={"system_prompt": f"{opening}\n\n{client}"})


class TurnRunner:
    """Runs turns on the worker thread; owns the pipeline there."""

    def __init__(self, pipeline: ChatPipeline, catalog: CharacterCatalog) -> None:
        self.pipeline = pipeline
        self.catalog = catalog
        self.directory = SessionDirectory()
        # Memory, controller and lore per card file, built once: they take seconds to load.
        self._parts: dict[str, tuple[Card, ConversationParts]] = {}

    def run(self, plan: TurnPlan, sink: Sink, cancel: threading.Event) -> None:
        """One turn; every outcome reaches ``sink`` (nothing when the client already left)."""
        if cancel.is_set():
            return
        try:
            self._run(plan, sink, cancel)
        except ApiError as error:
            sink(Failed(error))
        except RoleplayError as error:
            sink(Failed(ApiError(400, error.message, code="invalid_request")))
        except BackendError as error:
            sink(Failed(ApiError(502, error.message, type=SERVER_ERROR, code="backend_error")))
        except Exception:
            log.exception("a served reply failed")
            sink(Failed(ApiError(500, "internal server error", type=SERVER_ERROR)))

    def _run(self, plan: TurnPlan, sink: Sink, cancel: threading.Event) -> None:
        store = self.pipeline.store
        try:
            card = self.catalog.card(plan.character)
        except OSError as error:
            raise ApiError(
                404, f"the card of {plan.character.id!r} is gone", code="model_not_found"
            ) from error
        session = self.directory.session_for(
            store,
            plan.character,
            card,
            plan.client,
            user_name=plan.user_name,
            model_id=self.pipeline.engine.model_id,
            greeting=plan.history == "server",
        )
        conversation = self._conversation(session, card, plan.system_text)
        new_message = plan.turns[-1].text
        if plan.history == "client":
            path = attach(store, session.id, plan.turns)
            user, history = path[-1], path[:-1]
            conversation.refresh()
            prepared = conversation.prepare(user.content, history)
        else:  # as `roleplay chat` sends: prepared first, so a refused turn stores nothing
            history = conversation.messages()
            prepared = conversation.prepare(new_message, history)
            user = store.append_message(session.id, "user", new_message)
        stream = ReplyStream(
            conversation,
            user,
            prepared,
            self._settings(plan, session.user_name),
            cancel,
            on_generated=lambda: sink(GenerationEnded()),
        )
        sink(Started(session.id, prepared.prompt.prompt_tokens))
        leading = True
        for piece in stream:
            if leading:  # the stored reply is stripped; what the client sees should match
                piece = piece.lstrip()
                if not piece:
                    continue
                leading = False
            sink(piece)
        result = stream.result
        if result is None or result.interrupted:
            return  # the client left; nothing was stored and nobody is listening
        stats = result.stats
        sink(
            Finished(
                session_id=session.id,
                message_id=result.message.id if result.message else None,
                text=result.message.content if result.message else "",
                prompt_tokens=stats.prompt_tokens or prepared.prompt.prompt_tokens,
                completion_tokens=stats.new_tokens,
                finish_reason="length" if stats.stop_reason == "length" else "stop",
            )
        )

    def _conversation(
        self, session: Session, card: Card, system_text: str | None
    ) -> ServedConversation:
        parts = self._parts_for(session, card)
        shown = with_client_system(card, system_text) if system_text else card
        return ServedConversation(
            self.pipeline,
            session,
            shown,
            memory=parts.memory,
            controller=parts.controller,
            lore=parts.lore,
        )

    def _parts_for(self, session: Session, card: Card) -> ConversationParts:
        cached = self._parts.get(session.card_ref)
        if cached is not None and cached[0] is card:  # the catalog reloads a changed card
            return cached[1]
        opened = self.pipeline.resume(session.id)  # builds the parts as every face does
        parts = ConversationParts(opened.memory, opened.controller, opened.lore)
        self._parts[session.card_ref] = (card, parts)
        return parts

    def _settings(self, plan: TurnPlan, user_name: str) -> GenerationSettings:
        base = self.pipeline.settings
        budget = plan.max_tokens or base.max_new_tokens
        chosen = replace(
            base,
            max_new_tokens=min(budget, self.pipeline.engine.context_window),
            temperature=base.temperature if plan.temperature is None else plan.temperature,
            top_p=base.top_p if plan.top_p is None else plan.top_p,
            top_k=base.top_k if plan.top_k is None else plan.top_k,
            repetition_penalty=(
                base.repetition_penalty
                if plan.repetition_penalty is None
                else plan.repetition_penalty
            ),
            stop_strings=(*base.stop_strings, *plan.stop),
        )
        return reply_settings(chosen, user_name, plan.seed)
