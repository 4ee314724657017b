"""SQLite store of chat sessions and their message trees.

Messages form a tree through ``parent_id``: regenerating a reply adds a sibling (a "swipe"),
editing a user message adds a sibling branch. Each session has a ``head_id``, the leaf of the
branch in view; the conversation is the path from the root to the head.

Durability: WAL mode, one short transaction per write, so the user's message is on disk before
generation starts and a ``kill -9`` loses at most the reply being generated. Several processes
may share the file; SQLite's locking serialises their writes (busy timeout below).
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from roleplay.errors import RoleplayError

MessageRole = Literal["system", "user", "assistant"]
BUSY_TIMEOUT_MS = 10_000


@dataclass(frozen=True)
class Message:
    id: int
    session_id: str
    parent_id: int | None
    role: MessageRole
    content: str
    created_at: float
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Session:
    id: str
    character: str  # the card's display name
    card_ref: str  # what resolves the card again: a path
    model_id: str
    user_name: str
    head_id: int | None
    created_at: float
    updated_at: float
    metadata: dict[str, Any] = field(default_factory=dict)


def _create_schema_v1(connection: sqlite3.Connection) -> None:
    # Statement by statement: executescript() would COMMIT the surrounding upgrade transaction.
    statements = """
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY,
            character TEXT NOT NULL,
            card_ref TEXT NOT NULL,
            model_id TEXT NOT NULL,
            user_name TEXT NOT NULL,
            head_id INTEGER,
            created_at REAL NOT NULL,
            updated_at REAL NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            parent_id INTEGER REFERENCES messages(id),
            role TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content TEXT NOT NULL,
            created_at REAL NOT NULL,
            metadata TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX messages_by_session ON messages(session_id);
        CREATE INDEX messages_by_parent ON messages(parent_id);
    """
    for statement in statements.split(";"):
        if statement.strip():
            connection.execute(statement)


# Ordered upgrade steps: step i brings a database from user_version i to i + 1.
SCHEMA_UPGRADES: list[Callable[[sqlite3.Connection], None]] = [_create_schema_v1]


class SessionStore:
    """Sessions and messages in one SQLite file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(
                path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
            self._connection.row_factory = sqlite3.Row
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA foreign_keys = ON")
            self._upgrade()
        except sqlite3.DatabaseError as error:
            raise RoleplayError(f"{path}: cannot open the session store ({error})") from error

    def close(self) -> None:
        self._connection.close()

    def _upgrade(self) -> None:
        with self._transaction() as connection:
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version > len(SCHEMA_UPGRADES):
                raise RoleplayError(
                    f"{self.path}: written by a newer version (schema {version}); upgrade roleplay"
                )
            for step in SCHEMA_UPGRADES[version:]:
                step(connection)
            connection.execute(f"PRAGMA user_version = {len(SCHEMA_UPGRADES)}")

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so two processes never interleave
        # a read-modify-write (e.g. append + head move).
        connection = self._connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")

    # Sessions -----------------------------------------------------------------------------

    def create_session(
        self,
        *,
        character: str,
        card_ref: str,
        model_id: str,
        user_name: str,
        metadata: dict[str, Any] | None = None,
    ) -> Session:
        session_id = uuid.uuid4().hex[:12]
        now = time.time()
        with self._transaction() as connection:
            connection.execute(
                "INSERT INTO sessions (id, character, card_ref, model_id, user_name, head_id,"
                " created_at, updated_at, metadata) VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?)",
                (
                    session_id,
                    character,
                    card_ref,
                    model_id,
                    user_name,
                    now,
                    now,
                    json.dumps(metadata or {}),
                ),
            )
        return self.get_session(session_id)

    def get_session(self, session_id: str) -> Session:
        row = self._connection.execute(
            "SELECT * FROM sessions WHERE id = ?", (session_id,)
        ).fetchone()
        if row is None:
            raise RoleplayError(f"unknown session {session_id!r} (see `roleplay sessions list`)")
        return _session_from_row(row)

    def list_sessions(self, character: str | None = None) -> list[Session]:
        query = "SELECT * FROM sessions"
        parameters: tuple[Any, ...] = ()
        if character is not None:
            query += " WHERE character = ?"
            parameters = (character,)
        rows = self._connection.execute(query + " ORDER BY updated_at DESC", parameters)
        return [_session_from_row(row) for row in rows]

    def count_messages(self, session_id: str) -> int:
        row = self._connection.execute(
            "SELECT COUNT(*) FROM messages WHERE session_id = ?", (session_id,)
        ).fetchone()
        return int(row[0])

    def update_session_metadata(self, session_id: str, updates: dict[str, Any]) -> None:
        self._update_session(session_id, updates)

    def update_session_user(
        self, session_id: str, user_name: str, metadata_updates: dict[str, Any]
    ) -> None:
        """Who the user is from now on (a persona switch), name and metadata in one write."""
        self._update_session(session_id, metadata_updates, user_name=user_name)

    def _update_session(
        self, session_id: str, updates: dict[str, Any], *, user_name: str | None = None
    ) -> None:
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT metadata, user_name FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if row is None:
                raise RoleplayError(f"unknown session {session_id!r}")
            merged = {**json.loads(row["metadata"]), **updates}
            connection.execute(
                "UPDATE sessions SET user_name = ?, metadata = ?, updated_at = ? WHERE id = ?",
                (user_name or row["user_name"], json.dumps(merged), time.time(), session_id),
            )

    def delete_session(self, session_id: str) -> None:
        with self._transaction() as connection:
            connection.execute("UPDATE sessions SET head_id = NULL WHERE id = ?", (session_id,))
            # One statement: SQLite checks the parent_id references at its end, so the
            # order in which a session's messages are deleted does not matter.
            connection.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            connection.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    # Messages -----------------------------------------------------------------------------

    def append_message(
        self,
        session_id: str,
        role: MessageRole,
        content: str,
        *,
        parent_id: int | Literal["head"] | None = "head",
        metadata: dict[str, Any] | None = None,
        move_head: bool = True,
    ) -> Message:
        """Add a message (by default under the current head) and make it the new head."""
        now = time.time()
        with self._transaction() as connection:
            session = connection.execute(
                "SELECT head_id FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
            if session is None:
                raise RoleplayError(f"unknown session {session_id!r}")
            parent = session["head_id"] if parent_id == "head" else parent_id
            if parent is not None:
                self._require_message_in_session(connection, parent, session_id)
            cursor = connection.execute(
                "INSERT INTO messages (session_id, parent_id, role, content, created_at, metadata)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (session_id, parent, role, content, now, json.dumps(metadata or {})),
            )
            message_id = int(cursor.lastrowid or 0)
            if move_head:
                connection.execute(
                    "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                    (message_id, now, session_id),
                )
        return self.get_message(message_id)

    @staticmethod
    def _require_message_in_session(
        connection: sqlite3.Connection, message_id: int, session_id: str
    ) -> None:
        row = connection.execute(
            "SELECT session_id FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None or row["session_id"] != session_id:
            raise RoleplayError(f"message {message_id} is not part of session {session_id!r}")

    def get_message(self, message_id: int) -> Message:
        row = self._connection.execute(
            "SELECT * FROM messages WHERE id = ?", (message_id,)
        ).fetchone()
        if row is None:
            raise RoleplayError(f"unknown message {message_id}")
        return _message_from_row(row)

    def set_head(self, session_id: str, message_id: int | None) -> None:
        with self._transaction() as connection:
            if message_id is not None:
                self._require_message_in_session(connection, message_id, session_id)
            connection.execute(
                "UPDATE sessions SET head_id = ?, updated_at = ? WHERE id = ?",
                (message_id, time.time(), session_id),
            )

    def branch(self, session_id: str, head_id: int | None = None) -> list[Message]:
        """The conversation in view: messages from the root to ``head_id`` (default: head)."""
        if head_id is None:
            head_id = self.get_session(session_id).head_id
        if head_id is None:
            return []
        rows = self._connection.execute(
            "WITH RECURSIVE path(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM messages WHERE id = ? AND session_id = ?"
            " UNION ALL SELECT m.id, m.parent_id, path.depth + 1"
            " FROM messages m JOIN path ON m.id = path.parent_id)"
            " SELECT messages.* FROM path JOIN messages ON messages.id = path.id"
            " ORDER BY path.depth DESC",
            (head_id, session_id),
        ).fetchall()
        return [_message_from_row(row) for row in rows]

    def siblings(self, message_id: int) -> list[Message]:
        """Alternatives of a message: same parent and role, oldest first (swipe order)."""
        message = self.get_message(message_id)
        if message.parent_id is None:
            rows = self._connection.execute(
                "SELECT * FROM messages WHERE session_id = ? AND parent_id IS NULL AND role = ?"
                " ORDER BY id",
                (message.session_id, message.role),
            )
        else:
            rows = self._connection.execute(
                "SELECT * FROM messages WHERE parent_id = ? AND role = ? ORDER BY id",
                (message.parent_id, message.role),
            )
        return [_message_from_row(row) for row in rows]

    def latest_leaf(self, message_id: int) -> int:
        """Follow the newest child repeatedly: where a swipe to ``message_id`` should land."""
        current = message_id
        while True:
            row = self._connection.execute(
                "SELECT id FROM messages WHERE parent_id = ? ORDER BY id DESC LIMIT 1", (current,)
            ).fetchone()
            if row is None:
                return current
            current = int(row["id"])


def _session_from_row(row: sqlite3.Row) -> Session:
    return Session(
        id=row["id"],
        character=row["character"],
        card_ref=row["card_ref"],
        model_id=row["model_id"],
        user_name=row["user_name"],
        head_id=row["head_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        metadata=json.loads(row["metadata"]),
    )


def _message_from_row(row: sqlite3.Row) -> Message:
    return Message(
        id=row["id"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
        metadata=json.loads(row["metadata"]),
    )
