"""The echo guard of group scenes: a line that repeats what its speaker heard is generated
again before anything of it is stored, remembered or rated; the terminal shows each try."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from roleplay.cli import group_chat
from roleplay.engine.base import BackendError, GenerationSettings, GenerationStats, TokenEvent
from roleplay.groups.echo import (
    AttemptRejected,
    AttemptText,
    EchoGuard,
    ReplyEvent,
    ReplyKept,
    retry_seed,
)
from roleplay.groups.scene import GroupConversation, start_group
from roleplay.pipeline import ChatPipeline
from roleplay.sessions import SessionStore
from tests.groups.test_scene import SceneRecorder
from tests.helpers.scripted_engine import ScriptedEngine

USER_LINE = "The storm will hit the harbour before midnight, so we sail at dawn."
COPY = "The storm will hit the harbour before midnight, so we sail at dawn."
# Shares 7 of its 9 word 4-grams with USER_LINE: above max_overlap (0.5), less than COPY.
HALF_COPY = "The storm will hit the harbour before midnight, so we... I hear."
ORIGINAL = "Then I want the charts checked twice before anyone boards."


class RatingSpy:
    """A safety rater that records what it was asked to rate (only stored replies are)."""

    def __init__(self) -> None:
        self.rated: list[str] = []

    def rate(self, text: str) -> dict[str, Any]:
        self.rated.append(text)
        return {"toxicity": 0.0}


class SeededEngine(ScriptedEngine):
    """Answers by seed (unknown seeds: ``fallback``) and records the seeds it was given."""

    def __init__(self, by_seed: dict[int | None, str], fallback: str = ORIGINAL) -> None:
        super().__init__((fallback,))
        self.by_seed = by_seed
        self.fallback = fallback
        self.seeds: list[int | None] = []

    def stream(
        self, prompt: str, settings: GenerationSettings, **kwargs: Any
    ) -> Iterator[TokenEvent]:
        self.seeds.append(settings.seed)
        self.replies = [self.by_seed.get(settings.seed, self.fallback)]
        self.calls = 0
        return super().stream(prompt, settings, **kwargs)


class FailingEngine(ScriptedEngine):
    """Plays its script, then fails on call ``fail_at`` (0-based)."""

    def __init__(self, replies: Sequence[str], fail_at: int) -> None:
        super().__init__(replies)
        self.fail_at = fail_at

    def stream(
        self, prompt: str, settings: GenerationSettings, **kwargs: Any
    ) -> Iterator[TokenEvent]:
        if self.calls == self.fail_at:
            raise BackendError("the server went away")
        return super().stream(prompt, settings, **kwargs)


@pytest.fixture
def cards(characters_dir: Path) -> list[Path]:
    return [characters_dir / f"{name}.yaml" for name in ("mira", "sable", "pip")]


def _scene(
    tmp_path: Path,
    cards: list[Path],
    engine: ScriptedEngine,
    *,
    guard: EchoGuard | None = None,
    settings: GenerationSettings | None = None,
) -> tuple[GroupConversation, dict[str, SceneRecorder], RatingSpy]:
    memories: dict[str, SceneRecorder] = {}
    safety = RatingSpy()

    def memory(card: Any) -> SceneRecorder:
        return memories.setdefault(card.name, SceneRecorder(card.name))

    pipeline = ChatPipeline(
        engine,
        SessionStore(tmp_path / "s.sqlite3"),
        memory_factory=memory,
        safety=safety,
        settings=settings,
    )
    scene = start_group(pipeline, cards, user_name="Lena", rng=random.Random(3), echo_guard=guard)
    return scene, memories, safety


def _guard() -> EchoGuard:
    return group_chat.echo_guard()  # roleplay generate scene's: 4-grams, 0.5, 2 retries


def _stored_replies(scene: GroupConversation) -> list[str]:
    """Every character line in the session file, swipes and off-branch ones included."""
    with sqlite3.connect(scene.store.path) as connection:
        rows = connection.execute(
            "SELECT content FROM messages WHERE session_id = ? AND role = 'assistant'",
            (scene.session.id,),
        ).fetchall()
    return [row[0] for row in rows]


def _remembered_by(memories: dict[str, SceneRecorder], speaker: str) -> list[str]:
    """The lines by ``speaker`` that any character keeps in memory."""
    return [
        text
        for recorder in memories.values()
        for lines, _ in recorder.scenes
        for who, text in lines
        if who == speaker
    ]


# The guard ---------------------------------------------------------------------------------


def test_a_copied_line_is_generated_again_and_only_the_original_is_kept(
    tmp_path: Path, cards: list[Path]
) -> None:
    engine = ScriptedEngine((COPY, ORIGINAL))
    scene, memories, safety = _scene(tmp_path, cards, engine, guard=_guard())
    scene.send(USER_LINE)
    stream = scene.reply("sable", seed=11)
    assert stream.text() == ORIGINAL
    assert engine.calls == 2 and stream.retries == 1 and stream.attempts == 2
    stored = scene.messages()[-1]
    assert stored.content == ORIGINAL and stored.metadata["speaker"] == "Sable"
    assert stored.metadata["echo_retries"] == 1
    assert stored.metadata["echo_overlap"] == stream.overlap == 0.0
    # Nothing of the rejected attempt anywhere: no message, no memory, no safety rating.
    assert COPY not in _stored_replies(scene)
    assert len(scene.swipes()) == 1
    assert _remembered_by(memories, "Sable") == [ORIGINAL] * 3  # each present one witnessed it
    assert safety.rated == [ORIGINAL]


def test_the_least_repetitive_attempt_is_kept_when_every_one_echoes(
    tmp_path: Path, cards: list[Path]
) -> None:
    engine = ScriptedEngine((COPY, HALF_COPY, COPY))
    scene, memories, _ = _scene(tmp_path, cards, engine, guard=_guard())
    scene.send(USER_LINE)
    events: list[ReplyEvent] = []
    stream = scene.reply("sable", on_event=events.append)
    assert stream.text() == HALF_COPY
    assert engine.calls == 3 and stream.retries == 2 and stream.kept_attempt == 1
    assert _stored_replies(scene).count(COPY) == 0
    assert _remembered_by(memories, "Sable") == [HALF_COPY] * 3
    kept = events[-1]
    assert isinstance(kept, ReplyKept)
    assert (kept.attempt, kept.attempts, kept.retries) == (1, 3, 2)
    assert kept.overlap is not None and 0.5 < kept.overlap < 1.0


def test_events_mark_each_attempt_for_a_face(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards, ScriptedEngine((COPY, ORIGINAL)), guard=_guard())
    scene.send(USER_LINE)
    heard: list[ReplyEvent] = []
    stream = scene.reply("sable", on_event=heard.append)
    events = list(stream.events())
    assert events == heard  # the listener hears what the iterator yields
    kinds = [type(event).__name__ for event in events if not isinstance(event, AttemptText)]
    assert kinds == ["AttemptStarted", "AttemptRejected", "AttemptStarted", "ReplyKept"]
    rejected = next(e for e in events if isinstance(e, AttemptRejected))
    assert (rejected.speaker, rejected.attempt, rejected.overlap) == ("Sable", 0, 1.0)
    texts = [
        "".join(e.text for e in events if isinstance(e, AttemptText) and e.attempt == i)
        for i in (0, 1)
    ]
    assert texts == [COPY, ORIGINAL]
    # Plain iteration (the ReplyStream way) yields every attempt's pieces.
    scene.send("Again?")
    again = scene.reply("sable")
    assert "".join(again) == ORIGINAL and again.retries == 0


def test_only_what_the_speaker_heard_from_others_counts(tmp_path: Path, cards: list[Path]) -> None:
    secret = "The vault code is four four seven one and it changes at noon."
    engine = ScriptedEngine(("Noted, nobody else hears it.", secret, secret))
    scene, _, _ = _scene(tmp_path, cards, engine, guard=_guard())
    scene.leave("pip")
    scene.send(secret)
    scene.reply("mira").text()
    scene.join(cards[2])
    scene.send("Pip, anything to add?")
    # Pip was away when the code was said: saying it is not an echo from Pip's seat.
    pip = scene.reply("pip")
    assert pip.text() == secret and pip.retries == 0
    # A speaker repeating its own earlier line is not echoing the others either.
    scene.send("Pip?")
    again = scene.reply("pip")
    assert again.text() == secret and again.retries == 0
    assert engine.calls == 3


def test_a_seed_reproduces_the_retries(tmp_path: Path, cards: list[Path]) -> None:
    def run(folder: Path) -> tuple[str, list[int | None]]:
        engine = SeededEngine({7: COPY, retry_seed(7, 1): ORIGINAL}, fallback=COPY)
        folder.mkdir()
        scene, _, _ = _scene(folder, cards, engine, guard=_guard())
        scene.send(USER_LINE)
        return scene.reply("sable", seed=7).text(), engine.seeds

    assert run(tmp_path / "a") == run(tmp_path / "b") == (ORIGINAL, [7, 1007])


def test_retries_derive_from_the_pipelines_seed_or_stay_random(
    tmp_path: Path, cards: list[Path]
) -> None:
    engine = SeededEngine({}, fallback=COPY)
    scene, _, _ = _scene(
        tmp_path, cards, engine, guard=_guard(), settings=GenerationSettings(seed=5)
    )
    scene.send(USER_LINE)
    scene.reply("sable").text()
    assert engine.seeds == [5, 1005, 2005]
    engine.seeds.clear()
    scene.pipeline.settings = replace(scene.pipeline.settings, seed=None)
    scene.send(USER_LINE)
    scene.reply("pip").text()
    assert engine.seeds == [None, None, None]


def test_without_a_guard_or_retries_the_first_attempt_is_stored(
    tmp_path: Path, cards: list[Path]
) -> None:
    engine = ScriptedEngine((COPY, ORIGINAL))
    scene, memories, _ = _scene(tmp_path, cards, engine)  # no guard: the default
    scene.send(USER_LINE)
    stream = scene.reply("sable")
    assert stream.text() == COPY and stream.retries == 0 and stream.overlap is None
    assert engine.calls == 1
    assert "echo_retries" not in scene.messages()[-1].metadata
    assert _remembered_by(memories, "Sable") == [COPY] * 3
    # retries: 0 (dialogue.yaml) measures the line but never generates it again.
    scene.echo_guard = replace(_guard(), retries=0)
    scene.send(USER_LINE)
    measured = scene.reply("pip")
    assert measured.text() == ORIGINAL and engine.calls == 2 and measured.retries == 0


def test_regenerate_goes_through_the_guard_and_swipes_hold_only_kept_lines(
    tmp_path: Path, cards: list[Path]
) -> None:
    engine = ScriptedEngine(("Charts first.", COPY, ORIGINAL))
    scene, memories, _ = _scene(tmp_path, cards, engine, guard=_guard())
    scene.send(USER_LINE)
    assert scene.reply("sable").text() == "Charts first."
    regenerated = scene.regenerate(seed=3)
    assert regenerated.text() == ORIGINAL and regenerated.retries == 1
    assert [m.content for m in scene.swipes()] == ["Charts first.", ORIGINAL]
    assert COPY not in _stored_replies(scene)
    assert _remembered_by(memories, "Sable") == [ORIGINAL] * 3  # the swipe replaced it
    assert scene.swipe(1).content == "Charts first."


def test_stopping_a_retry_keeps_what_was_being_read(tmp_path: Path, cards: list[Path]) -> None:
    engine = ScriptedEngine((COPY, ORIGINAL))
    scene, memories, _ = _scene(tmp_path, cards, engine, guard=_guard())
    scene.send(USER_LINE)
    stream = scene.reply("sable")
    events = stream.events()
    for event in events:
        if isinstance(event, AttemptText) and event.attempt == 1:
            break  # the user stops the second attempt after its first word
    events.close()  # type: ignore[attr-defined]
    stored = scene.messages()[-1]
    assert stored.content == "Then" and stored.metadata["interrupted"] is True
    assert stream.result is not None and stream.result.interrupted
    assert COPY not in _stored_replies(scene)
    assert _remembered_by(memories, "Sable") == []  # an interrupted line is not remembered


def test_a_failed_retry_stores_nothing(tmp_path: Path, cards: list[Path]) -> None:
    engine = FailingEngine((COPY, ORIGINAL), fail_at=1)
    scene, memories, safety = _scene(tmp_path, cards, engine, guard=_guard())
    user = scene.send(USER_LINE)
    stream = scene.reply("sable")
    with pytest.raises(BackendError):
        stream.text()
    assert scene.messages()[-1].id == user.id  # the user's message stays, no reply
    assert _stored_replies(scene) == [scene.messages()[0].content]  # the greeting only
    assert _remembered_by(memories, "Sable") == [] and safety.rated == []
    assert stream.result is not None and stream.result.message is None


def test_a_stream_is_consumed_once(tmp_path: Path, cards: list[Path]) -> None:
    from roleplay.pipeline import StreamConsumedError

    scene, _, _ = _scene(tmp_path, cards, ScriptedEngine((ORIGINAL,)), guard=_guard())
    scene.send("Go.")
    stream = scene.reply("sable")
    stream.text()
    with pytest.raises(StreamConsumedError):
        list(stream.events())
    with pytest.raises(StreamConsumedError):
        iter(stream)


def test_retry_stats_are_the_kept_attempts(tmp_path: Path, cards: list[Path]) -> None:
    scene, _, _ = _scene(tmp_path, cards, ScriptedEngine((COPY, ORIGINAL)), guard=_guard())
    scene.send(USER_LINE)
    stream = scene.reply("sable")
    stream.text()
    assert isinstance(stream.stats, GenerationStats)
    assert stream.stats.new_tokens == len(ORIGINAL.split())
    assert scene.messages()[-1].metadata["tokens"] == len(ORIGINAL.split())


# The terminal ------------------------------------------------------------------------------


def test_the_cli_notes_a_rejected_attempt_and_streams_the_next_on_a_fresh_line(
    tmp_path: Path, cards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    engine = ScriptedEngine((COPY, ORIGINAL, COPY, ORIGINAL))
    scene, _, _ = _scene(tmp_path, cards, engine)
    scene.set_order("manual")
    group_chat.reply_once(scene, USER_LINE, seed=None)  # manual: nobody answers on their own
    assert "manual order" in capsys.readouterr().out
    assert scene.echo_guard is not None  # the CLI gave the scene the scene runner's guard
    expected = [
        f"Sable: {COPY} (repeats 100% of earlier lines; again)",
        f"Sable: {ORIGINAL}",
    ]
    assert group_chat._command(scene, "/as sable", None)
    assert capsys.readouterr().out.splitlines() == expected
    assert group_chat._command(scene, "/regen", None)  # /regen goes through the guard too
    assert capsys.readouterr().out.splitlines() == expected
    assert [m.content for m in scene.swipes()] == [ORIGINAL, ORIGINAL]


def test_the_cli_ends_with_the_kept_line_when_the_last_try_was_worse(
    tmp_path: Path, cards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    scene, _, _ = _scene(tmp_path, cards, ScriptedEngine((COPY, HALF_COPY, COPY)), guard=_guard())
    scene.send(USER_LINE)
    assert group_chat._render(scene, "Sable", scene.reply("sable"))
    lines = capsys.readouterr().out.splitlines()
    assert lines[-2] == "(keeping try 2, the least repetitive)"
    assert lines[-1] == f"Sable: {HALF_COPY}"
    assert len(lines) == 5


def test_once_json_reports_retries_per_reply(
    tmp_path: Path, cards: list[Path], capsys: pytest.CaptureFixture[str]
) -> None:
    scene, _, _ = _scene(tmp_path, cards, ScriptedEngine((COPY, ORIGINAL, "Aye.")))
    group_chat.reply_once_json(scene, f"Sable, Pip: {USER_LINE}", seed=4)
    record = json.loads(capsys.readouterr().out)
    replies = [(r["speaker"], r["text"], r["retries"]) for r in record["replies"]]
    assert replies[:2] == [("Sable", ORIGINAL, 1), ("Pip Marigold", "Aye.", 0)]
