"""Imported lorebooks under ``<home>/lorebooks/``.

Each book is two files named by ``safe_slug(name)`` (ASCII letters, digits and ``-`` plus a
hash of the full name, so a name never becomes a path and two names never share files):

    <slug>.json        the imported file, byte for byte (``export`` gives it back as is)
    <slug>.meta.json   {"name", "source", "imported", "sha256", "bytes"}

The book file is the source of truth: it is parsed (``world_info``) each time it is used,
so fields this platform does not interpret are never rewritten or lost. Writes are atomic
(a temporary file in the folder, then ``os.replace``): the book first, the record second,
so a book is listed only once both are whole. Names are unique ignoring case.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from roleplay.atomic_files import replace_atomically
from roleplay.cards.model import Lorebook
from roleplay.errors import RoleplayError
from roleplay.lorebooks.world_info import MAX_FILE_BYTES, parse_world_info
from roleplay.paths import roleplay_home, safe_slug

MAX_NAME_LENGTH = 100
_META_SUFFIX = ".meta.json"


def lorebooks_dir() -> Path:
    return roleplay_home() / "lorebooks"


@dataclass(frozen=True)
class StoredLorebook:
    """One imported lorebook: its name, files and where it came from."""

    name: str
    path: Path
    source: str
    imported: str
    sha256: str
    size: int

    @property
    def meta_path(self) -> Path:
        return self.path.with_name(self.path.stem + _META_SUFFIX)


def check_name(name: str) -> str:
    """``name`` trimmed, or a one-line error saying why it cannot name a lorebook."""
    cleaned = name.strip()
    if not cleaned:
        raise RoleplayError("a lorebook name cannot be empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise RoleplayError(f"lorebook name too long ({len(cleaned)} characters, at most 100)")
    if "," in cleaned:
        raise RoleplayError(
            f"lorebook name {cleaned!r} has a comma (--lorebook takes a comma-separated "
            "list); choose another with --name"
        )
    if any(unicodedata.category(char).startswith("C") for char in cleaned):
        raise RoleplayError(f"lorebook name {cleaned!r} has control characters")
    return cleaned


class LorebookStore:
    """The imported lorebooks of one ROLEPLAY_HOME."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else lorebooks_dir()

    def books(self) -> list[StoredLorebook]:
        if not self.folder.is_dir():
            return []
        books = []
        for meta in self.folder.glob(f"*{_META_SUFFIX}"):
            book = self._read_meta(meta)
            if book is not None:
                books.append(book)
        return sorted(books, key=lambda book: (book.name.casefold(), book.name))

    def find(self, name: str) -> StoredLorebook | None:
        """The book called ``name``: exactly, else ignoring case."""
        books = self.books()
        for book in books:
            if book.name == name.strip():
                return book
        folded = name.strip().casefold()
        return next((book for book in books if book.name.casefold() == folded), None)

    def get(self, name: str) -> StoredLorebook:
        book = self.find(name)
        if book is None:
            known = ", ".join(repr(book.name) for book in self.books()[:8]) or "none imported yet"
            raise RoleplayError(
                f"unknown lorebook {name.strip()!r} (known: {known}; "
                "`roleplay lorebook import FILE` adds one)"
            )
        return book

    def read_bytes(self, name: str) -> bytes:
        book = self.get(name)
        try:
            return book.path.read_bytes()
        except OSError as error:
            raise RoleplayError(
                f"lorebook {book.name!r}: cannot read {book.path}: {error}"
            ) from None

    def load(self, name: str) -> Lorebook:
        """The parsed book (its ``name`` is the stored name)."""
        book = self.get(name)
        return parse_world_info(
            self.read_bytes(book.name), f"lorebook {book.name!r}", name=book.name
        )

    def import_file(
        self, source: Path, *, name: str | None = None, replace: bool = False
    ) -> tuple[StoredLorebook, Lorebook]:
        """Check ``source`` is World Info, then store its bytes under ``name`` (default: the
        file's stem). Nothing is written when anything is wrong."""
        data = _read_source(source)
        chosen = check_name(name if name is not None else source.stem)
        book = parse_world_info(data, str(source), name=chosen)
        existing = self.find(chosen)
        if existing is not None and not replace:
            raise RoleplayError(
                f"a lorebook named {existing.name!r} exists (from {existing.source}); "
                "use --replace to replace it or --name to keep both"
            )
        slug = safe_slug(chosen)
        path = self.folder / f"{slug}.json"
        if path.parent != self.folder:  # safe_slug never makes one; belt and braces
            raise RoleplayError(f"lorebook name {chosen!r} cannot be used")
        stored = StoredLorebook(
            name=chosen,
            path=path,
            source=str(source.expanduser().resolve()),
            imported=datetime.now(UTC).isoformat(timespec="seconds"),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        )
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RoleplayError(f"cannot create {self.folder}: {error.strerror or error}") from None
        write_atomic(path, data)
        write_atomic(stored.meta_path, _meta_bytes(stored))
        if existing is not None and existing.path != path:
            self._delete(existing)
        return stored, book

    def remove(self, name: str) -> StoredLorebook:
        book = self.get(name)
        self._delete(book)
        return book

    def _delete(self, book: StoredLorebook) -> None:
        # The record first: a book without one is never listed, and a re-import rewrites it.
        try:
            book.meta_path.unlink(missing_ok=True)
            book.path.unlink(missing_ok=True)
        except OSError as error:
            raise RoleplayError(f"cannot remove lorebook {book.name!r}: {error}") from None

    def _read_meta(self, meta: Path) -> StoredLorebook | None:
        try:
            record: Any = json.loads(meta.read_text(encoding="utf-8"))
            path = meta.with_name(meta.name.removesuffix(_META_SUFFIX) + ".json")
            if not path.is_file():
                return None  # removed half-way: no book to list
            return StoredLorebook(
                name=str(record["name"]),
                path=path,
                source=str(record.get("source", "")),
                imported=str(record.get("imported", "")),
                sha256=str(record.get("sha256", "")),
                size=int(record.get("bytes", 0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise RoleplayError(f"{meta}: unreadable lorebook record ({error})") from None


def _read_source(source: Path) -> bytes:
    path = source.expanduser()
    if not path.exists():
        raise RoleplayError(f"{source}: no such file")
    if not path.is_file():
        raise RoleplayError(f"{source}: not a file")
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise RoleplayError(
                f"{source}: {size:,} bytes is too large for a lorebook "
                f"(at most {MAX_FILE_BYTES // (1024 * 1024)} MB)"
            )
        with path.open("rb") as stream:
            return stream.read(MAX_FILE_BYTES + 1)  # a file that grew is caught by the parser
    except OSError as error:
        raise RoleplayError(f"{source}: cannot read it ({error.strerror or error})") from None


def _meta_bytes(book: StoredLorebook) -> bytes:
    record = {
        "name": book.name,
        "source": book.source,
        "imported": book.imported,
        "sha256": book.sha256,
        "bytes": book.size,
    }
    return (json.dumps(record, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def write_atomic(path: Path, data: bytes) -> None:
    """``path`` holds ``data`` or what it held before, never half of it."""
    replace_atomically(path, data)
