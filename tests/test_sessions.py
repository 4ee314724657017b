from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from roleplay.errors import RoleplayError
from roleplay.sessions import SCHEMA_UPGRADES, SessionStore


def _store(tmp_path: Path) -> SessionStore:
    return SessionStore(tmp_path / "sessions.sqlite3")


def _session(store: SessionStore) -> str:
    return store.create_session(
        character="Mira", card_ref="/cards/mira.yaml", model_id="m", user_name="Ann"
    ).id


def test_messages_form_a_branch_from_root_to_head(tmp_path: Path) -> None:
    store = _store(tmp_path)
    sid = _session(store)
    greeting = store.append_message(sid, "assistant", "Hi", parent_id=None)
    user = store.append_message(sid, "user", "Hello")
    reply = store.append_message(sid, "assistant", "Welcome")
    assert [m.id for m in store.branch(sid)] == [greeting.id, user.id, reply.id]
    assert user.parent_id == greeting.id
    assert store.get_session(sid).head_id == reply.id


def test_regenerated_replies_are_siblings_and_swiping_moves_the_head(tmp_path: Path) -> None:
    store = _store(tmp_path)
    sid = _session(store)
    user = store.append_message(sid, "user", "Hello", parent_id=None)
    first = store.append_message(sid, "assistant", "One")
    second = store.append_message(sid, "assistant", "Two", parent_id=user.id)
    assert [m.content for m in store.siblings(first.id)] == ["One", "Two"]
    store.set_head(sid, first.id)
    assert store.branch(sid)[-1].content == "One"
    follow_up = store.append_message(sid, "user", "And then?")
    assert store.latest_leaf(first.id) == follow_up.id
    assert store.latest_leaf(second.id) == second.id


def test_append_to_a_message_of_another_session_is_refused(tmp_path: Path) -> None:
    store = _store(tmp_path)
    first, second = _session(store), _session(store)
    message = store.append_message(first, "user", "x", parent_id=None)
    with pytest.raises(RoleplayError, match="not part of session"):
        store.append_message(second, "assistant", "y", parent_id=message.id)


def test_metadata_round_trips_and_sessions_list_newest_first(tmp_path: Path) -> None:
    store = _store(tmp_path)
    older, newer = _session(store), _session(store)
    store.append_message(newer, "user", "x", metadata={"tokens": 3})
    store.update_session_metadata(older, {"steer": {"extraversion": 1.0}})
    store.append_message(newer, "user", "y")
    assert store.list_sessions()[0].id == newer
    assert store.get_session(older).metadata == {"steer": {"extraversion": 1.0}}
    assert store.branch(newer)[0].metadata == {"tokens": 3}


def test_delete_session_removes_its_messages_only(tmp_path: Path) -> None:
    store = _store(tmp_path)
    keep, drop = _session(store), _session(store)
    store.append_message(keep, "user", "keep me", parent_id=None)
    store.append_message(drop, "user", "a", parent_id=None)
    store.append_message(drop, "assistant", "b")
    store.delete_session(drop)
    assert store.count_messages(keep) == 1
    with pytest.raises(RoleplayError, match="unknown session"):
        store.get_session(drop)


def test_unknown_session_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(RoleplayError, match="unknown session 'nope'"):
        _store(tmp_path).get_session("nope")


def test_store_uses_wal_and_records_the_schema_version(tmp_path: Path) -> None:
    store = _store(tmp_path)
    store.close()
    connection = sqlite3.connect(tmp_path / "sessions.sqlite3")
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("PRAGMA user_version").fetchone()[0] == len(SCHEMA_UPGRADES)


def test_newer_schema_is_refused_without_touching_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    _store(tmp_path).close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version = 99")
    connection.commit()
    connection.close()
    with pytest.raises(RoleplayError, match="newer version"):
        SessionStore(path)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 99


def test_corrupt_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "sessions.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(RoleplayError, match="cannot open the session store"):
        SessionStore(path)
    assert path.read_bytes() == b"this is not a database" * 100


def _append_many(path: str, session_id: str, count: int) -> None:
    store = SessionStore(Path(path))
    for index in range(count):
        store.append_message(session_id, "user", f"message {index}")
    store.close()


def test_two_processes_appending_at_once_lose_nothing(tmp_path: Path) -> None:
    store = _store(tmp_path)
    sid = _session(store)
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=_append_many, args=(str(store.path), sid, 40)) for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert worker.exitcode == 0
    assert store.count_messages(sid) == 80
    # Every append went under the head at that moment: one unbroken chain, nothing lost.
    assert len(store.branch(sid)) == 80
