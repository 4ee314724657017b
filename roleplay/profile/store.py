"""SQLite store of what each character knows about each user (``<home>/profile.sqlite3``).

One row per fact, keyed by (user, character): a character only knows what the user told
that character. A fact is current until something supersedes it (``superseded_at`` set):
a new value in a single-valued slot (``superseded_by`` names the new fact), the same value
stated in the opposite slot (likes <-> dislikes), an edit, or a negation ("I'm not
vegetarian anymore": ``superseded_by`` stays NULL). Superseded facts are history: listed,
never recalled as current. ``delete`` and ``forget`` really remove rows (the user's data).

Durability as in roleplay/sessions.py: WAL, one short ``BEGIN IMMEDIATE`` transaction per
write, the schema version in ``user_version``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

from roleplay.errors import RoleplayError
from roleplay.paths import roleplay_home
from roleplay.profile.rules import ProfileRules, load_rules

FactSource = Literal["stated", "edited", "added"]
BUSY_TIMEOUT_MS = 10_000
DB_FILE_NAME = "profile.sqlite3"


def default_profile_path() -> Path:
    """``<home>/profile.sqlite3``."""
    return roleplay_home() / DB_FILE_NAME


@dataclass(frozen=True)
class Fact:
    id: int
    user: str
    character: str  # the card's display name
    slot: str  # "diet", "pet:cat"
    value: str
    statement: str  # the user's words ("I moved to Oslo"; the value for added/edited facts)
    source: FactSource
    created_at: float
    session_id: str | None
    message_id: int | None
    superseded_at: float | None
    superseded_by: int | None

    @property
    def current(self) -> bool:
        return self.superseded_at is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "user": self.user,
            "character": self.character,
            "slot": self.slot,
            "value": self.value,
            "statement": self.statement,
            "source": self.source,
            "created_at": self.created_at,
            "session_id": self.session_id,
            "message_id": self.message_id,
            "superseded_at": self.superseded_at,
            "superseded_by": self.superseded_by,
            "current": self.current,
        }


def _create_schema_v1(connection: sqlite3.Connection) -> None:
    statements = """
        CREATE TABLE facts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            user TEXT NOT NULL,
            character TEXT NOT NULL,
            slot TEXT NOT NULL,
            value TEXT NOT NULL,
            statement TEXT NOT NULL DEFAULT '',
            source TEXT NOT NULL CHECK (source IN ('stated', 'edited', 'added')),
            created_at REAL NOT NULL,
            session_id TEXT,
            message_id INTEGER,
            superseded_at REAL,
            superseded_by INTEGER REFERENCES facts(id) ON DELETE SET NULL
        );
        CREATE INDEX facts_by_owner ON facts(user, character, slot);
        CREATE INDEX facts_by_character ON facts(character);
    """
    for statement in statements.split(";"):
        if statement.strip():
            connection.execute(statement)


# Ordered upgrade steps: step i brings a database from user_version i to i + 1.
SCHEMA_UPGRADES: list[Callable[[sqlite3.Connection], None]] = [_create_schema_v1]


def fold(value: str) -> str:
    """How values compare: case and inner spacing do not make a new fact."""
    return " ".join(value.casefold().split())


class ProfileStore:
    """Facts about users, per character, in one SQLite file. Thread-safe (one lock)."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        rules: ProfileRules | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path if path is not None else default_profile_path()
        self.rules = rules or load_rules()
        self._clock = clock
        self._lock = threading.RLock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection = sqlite3.connect(
                self.path,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
                check_same_thread=False,
            )
            self._connection.row_factory = sqlite3.Row
            # A file that is not a database fails here, before anything is written to it.
            self._connection.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
            self._connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._connection.execute("PRAGMA journal_mode = WAL")
            self._connection.execute("PRAGMA foreign_keys = ON")
            self._upgrade()
        except sqlite3.DatabaseError as error:
            raise RoleplayError(f"{self.path}: cannot open the profile store ({error})") from error

    def close(self) -> None:
        with self._lock:
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
        with self._lock:
            connection = self._connection
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            else:
                connection.execute("COMMIT")

    # Writing ------------------------------------------------------------------------------

    def record(
        self,
        user: str,
        character: str,
        slot: str,
        value: str,
        *,
        statement: str = "",
        source: FactSource = "stated",
        session_id: str | None = None,
        message_id: int | None = None,
    ) -> Fact:
        """Store a fact, superseding in the same transaction what it contradicts: the current
        value of a single-valued slot, the same value in the opposite slot. A value that is
        already current is kept as it is (its date stays) and returned."""
        spec = self.rules.slot(slot)
        value = " ".join(value.split())
        if not value:
            raise RoleplayError("a profile fact needs a value")
        _check_owner(user, character)
        if source not in get_args(FactSource):
            raise RoleplayError(f"unknown fact source {source!r}")
        with self._transaction() as connection:
            same_slot = self._current_rows(connection, user, character, slot)
            for row in same_slot:
                if fold(row["value"]) == fold(value):
                    return _fact(row)
            now = self._clock()
            ids = (session_id, message_id)
            cursor = connection.execute(
                "INSERT INTO facts (user, character, slot, value, statement, source, created_at,"
                " session_id, message_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user, character, slot, value, statement or value, source, now, *ids),
            )
            new_id = int(cursor.lastrowid or 0)
            retired = [row["id"] for row in same_slot] if spec.kind == "single" else []
            if spec.opposite is not None:
                retired += [
                    row["id"]
                    for row in self._current_rows(connection, user, character, spec.opposite)
                    if fold(row["value"]) == fold(value)
                ]
            self._supersede(connection, retired, now, new_id)
            return self._get(connection, new_id)

    def retire(self, user: str, character: str, slot: str, value: str | None = None) -> list[Fact]:
        """A negation ("I'm not vegetarian anymore"): the current facts of ``slot`` with this
        value (any value when None) become history; returns them (empty: nothing matched)."""
        self.rules.slot(slot)
        with self._transaction() as connection:
            rows = [
                row
                for row in self._current_rows(connection, user, character, slot)
                if value is None or fold(row["value"]) == fold(value)
            ]
            self._supersede(connection, [row["id"] for row in rows], self._clock(), None)
            return [self._get(connection, row["id"]) for row in rows]

    def edit(self, fact_id: int, value: str) -> Fact:
        """A corrected value for a current fact: a new fact (``edited``) supersedes it."""
        value = " ".join(value.split())
        if not value:
            raise RoleplayError("the new value must not be empty")
        with self._transaction() as connection:
            old = self._get(connection, fact_id)
            if not old.current:
                raise RoleplayError(
                    f"profile fact {fact_id} is history (superseded); edit a current one"
                )
            if old.value == value:
                return old
            same = [
                row
                for row in self._current_rows(connection, old.user, old.character, old.slot)
                if row["id"] != fact_id and fold(row["value"]) == fold(value)
            ]
            now = self._clock()
            if same:  # the value is already known: the edited fact just folds into it
                self._supersede(connection, [fact_id], now, int(same[0]["id"]))
                return _fact(same[0])
            cursor = connection.execute(
                "INSERT INTO facts (user, character, slot, value, statement, source, created_at,"
                " session_id, message_id) VALUES (?, ?, ?, ?, ?, 'edited', ?, NULL, NULL)",
                (old.user, old.character, old.slot, value, value, now),
            )
            new_id = int(cursor.lastrowid or 0)
            self._supersede(connection, [fact_id], now, new_id)
            return self._get(connection, new_id)

    def delete(self, fact_id: int) -> Fact:
        """Remove one fact for good (facts it superseded stay history)."""
        with self._transaction() as connection:
            fact = self._get(connection, fact_id)
            connection.execute(
                "UPDATE facts SET superseded_by = NULL WHERE superseded_by = ?", (fact_id,)
            )
            connection.execute("DELETE FROM facts WHERE id = ?", (fact_id,))
            return fact

    def forget(self, user: str | None, character: str | None) -> int:
        """Remove every fact (history included) of a user with a character; ``None`` means
        every user / every character, not both. Returns how many were removed."""
        if user is None and character is None:
            raise RoleplayError("name a user or a character to forget")
        where, parameters = _owner_filter(user, character)
        with self._transaction() as connection:
            cursor = connection.execute(f"DELETE FROM facts{where}", parameters)
            return int(cursor.rowcount)

    # Reading ------------------------------------------------------------------------------

    def get(self, fact_id: int) -> Fact:
        with self._lock:
            return self._get(self._connection, fact_id)

    def current(self, user: str, character: str) -> list[Fact]:
        """The facts that hold now, oldest first."""
        return self.facts(user=user, character=character)

    def history(self, user: str, character: str) -> list[Fact]:
        """The superseded facts, oldest first."""
        return [
            fact
            for fact in self.facts(user=user, character=character, include_history=True)
            if not fact.current
        ]

    def facts(
        self,
        *,
        user: str | None = None,
        character: str | None = None,
        include_history: bool = False,
    ) -> list[Fact]:
        """Facts filtered by user and/or character (None: any), oldest first."""
        where, parameters = _owner_filter(user, character)
        if not include_history:
            where = (
                f"{where} AND superseded_at IS NULL" if where else " WHERE superseded_at IS NULL"
            )
        with self._lock:
            rows = self._connection.execute(
                f"SELECT * FROM facts{where} ORDER BY created_at, id", parameters
            ).fetchall()
        return [_fact(row) for row in rows]

    def users(self) -> list[str]:
        return self._distinct("user")

    def characters(self) -> list[str]:
        return self._distinct("character")

    def _distinct(self, column: Literal["user", "character"]) -> list[str]:
        with self._lock:
            rows = self._connection.execute(
                f"SELECT DISTINCT {column} FROM facts ORDER BY {column}"
            ).fetchall()
        return [str(row[0]) for row in rows]

    # Helpers ------------------------------------------------------------------------------

    def _current_rows(
        self, connection: sqlite3.Connection, user: str, character: str, slot: str
    ) -> list[sqlite3.Row]:
        return list(
            connection.execute(
                "SELECT * FROM facts WHERE user = ? AND character = ? AND slot = ?"
                " AND superseded_at IS NULL ORDER BY created_at, id",
                (user, character, slot),
            )
        )

    @staticmethod
    def _supersede(
        connection: sqlite3.Connection, ids: list[int], when: float, by: int | None
    ) -> None:
        for fact_id in ids:
            connection.execute(
                "UPDATE facts SET superseded_at = ?, superseded_by = ? WHERE id = ?",
                (when, by, fact_id),
            )

    @staticmethod
    def _get(connection: sqlite3.Connection, fact_id: int) -> Fact:
        row = connection.execute("SELECT * FROM facts WHERE id = ?", (fact_id,)).fetchone()
        if row is None:
            raise RoleplayError(f"unknown profile fact {fact_id} (see `roleplay profile list`)")
        return _fact(row)


def _check_owner(user: str, character: str) -> None:
    if not user.strip():
        raise RoleplayError("a profile fact needs a user name")
    if not character.strip():
        raise RoleplayError("a profile fact needs a character name")


def _owner_filter(user: str | None, character: str | None) -> tuple[str, tuple[str, ...]]:
    clauses: list[str] = []
    parameters: list[str] = []
    if user is not None:
        clauses.append("user = ?")
        parameters.append(user)
    if character is not None:
        clauses.append("character = ?")
        parameters.append(character)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return where, tuple(parameters)


def _fact(row: sqlite3.Row) -> Fact:
    return Fact(
        id=int(row["id"]),
        user=str(row["user"]),
        character=str(row["character"]),
        slot=str(row["slot"]),
        value=str(row["value"]),
        statement=str(row["statement"]),
        source=row["source"],
        created_at=float(row["created_at"]),
        session_id=row["session_id"],
        message_id=None if row["message_id"] is None else int(row["message_id"]),
        superseded_at=None if row["superseded_at"] is None else float(row["superseded_at"]),
        superseded_by=None if row["superseded_by"] is None else int(row["superseded_by"]),
    )
