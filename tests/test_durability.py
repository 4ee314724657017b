"""A crash mid-generation loses at most the partial reply; the session resumes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from roleplay.pipeline import ChatPipeline
from roleplay.sessions import SessionStore
from tests.conftest import REPO_ROOT
from tests.helpers.scripted_engine import ScriptedEngine

SLOW_CHAT = """
import sys
from pathlib import Path
from roleplay.pipeline import ChatPipeline
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine

store = SessionStore(Path(sys.argv[1]))
engine = ScriptedEngine(["word " * 500], delay=0.05)
conversation = ChatPipeline(engine, store).start(Path(sys.argv[2]))
print(conversation.session.id, flush=True)
for piece in conversation.send("Captain, the engines are failing."):
    print(piece, end="", flush=True)
"""


def test_kill_9_mid_generation_keeps_the_user_message(tmp_path: Path, characters_dir: Path) -> None:
    database = tmp_path / "sessions.sqlite3"
    process = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHAT, str(database), str(characters_dir / "mira.yaml")],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    session_id = process.stdout.readline().strip()
    deadline = time.monotonic() + 60
    while process.stdout.read(20).count("word") < 3:  # the reply is streaming
        assert time.monotonic() < deadline
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)

    connection = sqlite3.connect(database)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    connection.close()
    store = SessionStore(database)
    branch = store.branch(session_id)
    assert branch[-1].role == "user"
    assert branch[-1].content == "Captain, the engines are failing."
    resumed = ChatPipeline(ScriptedEngine(["Resumed."]), store).resume(session_id)
    assert resumed.reply_to_head().text() == "Resumed."
    assert [m.role for m in resumed.messages()] == ["assistant", "user", "assistant"]


class _InterruptingTerminal:
    """A stdout interrupted by Ctrl+C while printing the word "two", as a user would do."""

    def __init__(self) -> None:
        self.writes: list[str] = []
        self.interrupted = False

    def write(self, text: str) -> int:
        if "two" in text and not self.interrupted:
            self.interrupted = True
            raise KeyboardInterrupt
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        return None


def test_ctrl_c_in_the_terminal_stops_the_reply_and_keeps_it(
    tmp_path: Path, characters_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roleplay.cli import chat

    conversation = ChatPipeline(
        ScriptedEngine(["one two three four"]), SessionStore(tmp_path / "s.sqlite3")
    ).start(characters_dir / "mira.yaml")
    terminal = _InterruptingTerminal()
    monkeypatch.setattr(chat.sys, "stdout", terminal)
    chat._render_stream(conversation, conversation.send("Talk."))
    last = conversation.messages()[-1]
    printed = "".join(terminal.writes)
    assert "one" in printed and "three" not in printed and "(interrupted)" in printed
    assert last.content == "one two"  # the piece in flight when Ctrl+C hit is kept
    assert last.metadata["interrupted"] is True
    assert conversation.send("Still here?").text() == "one two three four"
