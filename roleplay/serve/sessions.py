"""Which stored session a request continues.

A conversation is named by the client: the ``X-Roleplay-Session`` header, else the request's
``user`` field, else ``default`` (one conversation per character for clients that name none,
which suits one person's SillyTavern). The same name with the same character continues the
same session (its history, and memory through it) across requests and server restarts. A
name that is the id of a stored session (``roleplay sessions list``) continues that session,
so a chat started in the terminal can go on in a front end and back.

Served sessions live in the same store as ``roleplay chat``'s (``roleplay sessions`` and the
TUI open them); they carry ``{"source": "serve", "serve_client": NAME}`` in their metadata,
which is how a name is found again after a restart.
"""

from __future__ import annotations

from collections.abc import Mapping

from roleplay.cards.model import Card
from roleplay.errors import RoleplayError
from roleplay.serve.catalog import Character
from roleplay.sessions import Session, SessionStore

SESSION_HEADER = "X-Roleplay-Session"
DEFAULT_CLIENT = "default"
CLIENT_KEY = "serve_client"


def client_name(headers: Mapping[str, str], user: str | None) -> str:
    """The conversation's name: the header, else ``user``, else ``default``."""
    for value in (headers.get(SESSION_HEADER.lower()), user):
        if value is not None and value.strip():
            return value.strip()
    return DEFAULT_CLIENT


def card_ref(character: Character) -> str:
    """What a session stores to find its card again (as ``ChatPipeline.start`` does)."""
    return str(character.path.resolve())


class SessionDirectory:
    """Conversation names to session ids; used on the model's worker thread only."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}

    def session_for(
        self,
        store: SessionStore,
        character: Character,
        card: Card,
        client: str,
        *,
        user_name: str,
        model_id: str,
        greeting: bool,
    ) -> Session:
        """The session ``client`` continues with ``character``; a new one the first time.

        ``greeting``: a new session starts with the card's greeting (its alternates as
        swipes), as ``roleplay chat`` does; without it, the client's messages are all of it.
        """
        reference = card_ref(character)
        key = (reference, client)
        known = self._known.get(key)
        if known is not None:
            try:
                return store.get_session(known)
            except RoleplayError:  # deleted meanwhile (`roleplay sessions`): start again
                del self._known[key]
        session = self._stored(store, reference, character, client)
        if session is None:
            session = store.create_session(
                character=card.name,
                card_ref=reference,
                model_id=model_id,
                user_name=user_name,
                metadata={"source": "serve", CLIENT_KEY: client},
            )
            if greeting:
                _store_greetings(store, session.id, card.substituted(user_name))
                session = store.get_session(session.id)
        self._known[key] = session.id
        return session

    @staticmethod
    def _stored(
        store: SessionStore, reference: str, character: Character, client: str
    ) -> Session | None:
        try:
            named = store.get_session(client)
        except RoleplayError:
            named = None
        if named is not None:
            if named.card_ref != reference:
                raise RoleplayError(
                    f"session {client} is a conversation with {named.character}, "
                    f"not {character.name}; ask for that character's model"
                )
            return named
        for session in store.list_sessions():  # most recently updated first
            if session.card_ref == reference and session.metadata.get(CLIENT_KEY) == client:
                return session
        return None


def _store_greetings(store: SessionStore, session_id: str, card: Card) -> None:
    """The greeting first, its alternates as swipes (what ``ChatPipeline.start`` stores)."""
    if not card.greeting:
        return
    greetings = [card.greeting, *card.alternate_greetings]
    first = store.append_message(session_id, "assistant", greetings[0], parent_id=None)
    for alternate in greetings[1:]:
        store.append_message(session_id, "assistant", alternate, parent_id=None, move_head=False)
    store.set_head(session_id, first.id)
