"""Where the platform keeps its files.

Everything the platform (and the libraries it drives) writes lives under one folder,
``ROLEPLAY_HOME`` (default: the platform's user data dir). The library caches that would
otherwise write under ``~`` (Hugging Face, torch hub, onnxruntime via chromadb) are pointed
there too, so tests can run in a temporary folder and users' home folders stay clean. The
values come from ``roleplay.settings`` (environment, then ``<home>/config.toml``).
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path

from roleplay.settings import get_settings


def roleplay_home() -> Path:
    """The platform's data folder (``$ROLEPLAY_HOME`` or the user data dir)."""
    return get_settings().home


def models_dir() -> Path:
    """Converted/quantized model caches. ``$ROLEPLAY_MODELS_DIR`` lets tests share one."""
    return get_settings().models_path


def user_characters_dir() -> Path:
    return roleplay_home() / "characters"


def sessions_db_path() -> Path:
    return roleplay_home() / "sessions.sqlite3"


def memory_dir() -> Path:
    return roleplay_home() / "memory"


def cache_dir() -> Path:
    return roleplay_home() / "cache"


def configure_library_caches() -> None:
    """Point third-party caches under ROLEPLAY_HOME and forbid hub downloads by default.

    Called once at start-up by every face (CLI, TUI, audit) before heavy imports. Values the
    user set explicitly are respected.
    """
    caches = cache_dir()
    defaults = {
        "HF_HOME": caches / "huggingface",
        "TORCH_HOME": caches / "torch",
        "XDG_CACHE_HOME": caches / "xdg",
        "MPLCONFIGDIR": caches / "matplotlib",
        "NLTK_DATA": caches / "nltk",
    }
    for variable, folder in defaults.items():
        os.environ.setdefault(variable, str(folder))
    # A user who wants to fetch a hub model sets ROLEPLAY_ALLOW_DOWNLOADS=1 (or the file's
    # allow_downloads = true).
    if not get_settings().allow_downloads:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")  # chromadb telemetry
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


_UNSAFE = re.compile(r"[^a-z0-9]+")


def safe_slug(name: str, *, max_length: int = 48) -> str:
    """A filesystem- and identifier-safe slug for any Unicode name.

    Names from cards never become paths directly: the slug keeps ASCII letters and digits
    (after NFKD folding) and always carries a short hash of the full name, so two different
    names never share a slug (e.g. "Mira" and "Mïra", or two all-CJK names).
    """
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    readable = _UNSAFE.sub("-", folded).strip("-")[:max_length].strip("-") or "character"
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{readable}-{digest}"
