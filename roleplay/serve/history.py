"""The client's messages, matched against a session's stored message tree.

Front ends such as SillyTavern send the whole conversation with every request and change it
freely: a swipe re-sends the same history for another reply, an edit changes one message, a
deleted turn shortens it, another chat with the same character starts a different one. The
session store keeps a tree for exactly this (swipes are siblings, edits are branches), so the
server walks the tree along the client's messages, reuses every message it already holds and
appends only what is new, under the last one that matched:

* the same history again (a swipe): nothing new; the reply becomes a sibling of the old one;
* an edited message: it is stored as a sibling, a new branch from there;
* a new turn: the user's message is appended under the previous reply.

Messages match on role and text (surrounding whitespace aside). The walk follows the branch
in view and, where that differs, the siblings of the message there, so it finds any stored
branch whose messages alternate the same way; a message that matches nothing starts a new
branch, so in the worst case a message is stored twice, never lost or misplaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from roleplay.sessions import Message, MessageRole, SessionStore


@dataclass(frozen=True)
class Turn:
    """One message as the client sent it."""

    role: MessageRole
    text: str


def _same(message: Message, turn: Turn) -> bool:
    return message.role == turn.role and message.content.strip() == turn.text.strip()


def attach(store: SessionStore, session_id: str, turns: Sequence[Turn]) -> list[Message]:
    """The stored messages for ``turns``, root first; missing ones are appended.

    Appended assistant messages carry ``{"from_client": true}``: the client's own greeting or
    an edited reply, not words this server generated.
    The session's head ends on the last message.
    """
    path = store.branch(session_id)
    matched: list[Message] = []
    for index, turn in enumerate(turns):
        parent = matched[-1] if matched else None
        if index >= len(path) and parent is not None:
            # The branch in view ends here; a newer branch may go on below this message.
            path = store.branch(session_id, store.latest_leaf(parent.id))
        if index >= len(path):
            break
        node = path[index]
        if not _same(node, turn):
            alternative = next((m for m in store.siblings(node.id) if _same(m, turn)), None)
            if alternative is None:
                break
            node = alternative
            path = store.branch(session_id, store.latest_leaf(node.id))
        matched.append(node)
    for turn in turns[len(matched) :]:
        parent_id = matched[-1].id if matched else None
        matched.append(
            store.append_message(
                session_id,
                turn.role,
                turn.text.strip(),
                parent_id=parent_id,
                metadata={"from_client": True} if turn.role == "assistant" else None,
            )
        )
    if matched and store.get_session(session_id).head_id != matched[-1].id:
        store.set_head(session_id, matched[-1].id)
    return matched
