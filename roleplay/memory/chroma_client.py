"""Opening Chroma (a local folder or a server) and turning its failures into one-line errors.

Chroma reports problems as a zoo of exception types (``InternalError`` from the Rust core,
``ValueError``, ``httpx`` errors, even Rust panics), and it waits forever on a SQLite file
another process holds locked. So the local folder is checked with plain ``sqlite3`` first,
with a timeout, and every call into Chroma runs inside ``chroma_errors``. Nothing here
ever resets, deletes or rewrites a store that fails to open.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from roleplay import paths
from roleplay.errors import RoleplayError

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

DATABASE_FILE = "chroma.sqlite3"
# How long to wait for another process's write before calling the store locked.
LOCK_WAIT_SECONDS = 5.0

_clients: dict[str, ClientAPI] = {}


@contextmanager
def chroma_errors(action: str) -> Iterator[None]:
    """Re-raise anything Chroma throws while doing ``action`` as a ``RoleplayError``."""
    try:
        yield
    except RoleplayError:
        raise
    except Exception as error:
        raise RoleplayError(f"memory store: could not {action}: {_one_line(error)}") from error
    except BaseException as error:
        # pyo3 turns a Rust panic inside chromadb into PanicException, a BaseException.
        if type(error).__name__ != "PanicException":
            raise
        raise RoleplayError(f"memory store: could not {action}: {_one_line(error)}") from error


def open_client(chroma_url: str | None = None, *, folder: Path | None = None) -> ClientAPI:
    """A client for the server at the URL, or for a local store: ``folder`` when given (a
    scratch store, e.g. an evaluation's), else ``memory_dir()``."""
    if chroma_url is not None and folder is not None:
        raise ValueError("a memory store is a server or a folder, not both")
    local = folder if folder is not None else paths.memory_dir()
    key = chroma_url if chroma_url is not None else str(local.resolve())
    client = _clients.get(key)
    if client is None:
        paths.configure_library_caches()
        client = _open_server(chroma_url) if chroma_url is not None else _open_local(local)
        _clients[key] = client
    return client


def forget_client(folder: Path) -> None:
    """Drop the cached client of a scratch store (before its folder is deleted)."""
    _clients.pop(str(folder.resolve()), None)


def forget_clients() -> None:
    """Drop cached clients (tests switch ROLEPLAY_HOME and servers between cases)."""
    _clients.clear()


def _open_local(folder: Path) -> ClientAPI:
    check_local_store(folder)
    import chromadb
    from chromadb.config import Settings

    with chroma_errors(f"open the memory store at {folder}"):
        return chromadb.PersistentClient(
            path=str(folder), settings=Settings(anonymized_telemetry=False)
        )


def _open_server(url: str) -> ClientAPI:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise RoleplayError(f"bad Chroma server URL {url!r}; expected e.g. http://127.0.0.1:8000")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8000)
    except ValueError:
        raise RoleplayError(f"bad port in Chroma server URL {url!r}") from None
    import chromadb
    from chromadb.config import Settings

    with chroma_errors(f"reach the Chroma server at {url}"):
        client = chromadb.HttpClient(
            host=parts.hostname,
            port=port,
            ssl=parts.scheme == "https",
            settings=Settings(anonymized_telemetry=False),
        )
        client.heartbeat()
    return client


def check_local_store(folder: Path) -> None:
    """Refuse a memory folder that is not a folder, not writable, corrupted or locked."""
    if folder.exists() and not folder.is_dir():
        raise RoleplayError(f"memory store {folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RoleplayError(f"cannot create the memory store {folder}: {error.strerror}") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise RoleplayError(f"memory store {folder} is not writable")
    database = folder / DATABASE_FILE
    if database.exists():
        _check_database(database)


def _check_database(database: Path) -> None:
    try:
        connection = sqlite3.connect(
            f"{database.as_uri()}?mode=rw",
            uri=True,
            timeout=LOCK_WAIT_SECONDS,
            isolation_level=None,
        )
        with closing(connection):
            # Reading the schema fails on a file that is not a database; BEGIN IMMEDIATE
            # fails (after the timeout) while another process is writing.
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "locked" in str(error) or "busy" in str(error):
            raise RoleplayError(
                f"memory store {database.parent} is locked by another process; try again"
            ) from None
        raise RoleplayError(f"memory store {database} cannot be opened: {error}") from None
    except sqlite3.DatabaseError as error:
        raise RoleplayError(f"memory store {database} is corrupted: {error}") from None


def _one_line(error: BaseException) -> str:
    message = " ".join(str(error).split()) or type(error).__name__
    return message if len(message) <= 300 else message[:297] + "..."
