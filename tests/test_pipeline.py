from __future__ import annotations

import threading
from pathlib import Path

import pytest

from roleplay.engine.base import BackendError, GenerationSettings
from roleplay.errors import RoleplayError
from roleplay.pipeline import ChatPipeline, ReplyStream, StreamConsumedError, reply_settings
from roleplay.prompting.builder import MemorySnippet
from roleplay.sessions import SessionStore
from tests.helpers.scripted_engine import ScriptedEngine


@pytest.fixture
def mira(characters_dir: Path) -> Path:
    return characters_dir / "mira.yaml"


def _pipeline(tmp_path: Path, *replies: str, delay: float = 0.0) -> ChatPipeline:
    engine = ScriptedEngine(replies or ("Aye.",), delay=delay)
    return ChatPipeline(engine, SessionStore(tmp_path / "s.sqlite3"))


def test_start_stores_the_greeting_with_alternates_as_swipes(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path).start(mira, user_name="Ann")
    messages = conversation.messages()
    assert len(messages) == 1 and messages[0].role == "assistant"
    assert messages[0].content == conversation.card.greeting
    assert len(conversation.swipes()) == 1 + len(conversation.card.alternate_greetings)


def test_send_commits_user_message_then_reply(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "Engines hold, for now.")
    conversation = pipeline.start(mira, user_name="Ann")
    stream = conversation.send("Captain, the engines are failing.", seed=1)
    # Before any token is generated the user's message is already on disk.
    on_disk = SessionStore(pipeline.store.path).branch(conversation.session.id)
    assert on_disk[-1].content == "Captain, the engines are failing."
    assert stream.text() == "Engines hold, for now."
    assert stream.result is not None and stream.result.message is not None
    stored = conversation.messages()[-1]
    assert stored.role == "assistant" and stored.content == "Engines hold, for now."
    assert stored.metadata["tokens"] == 4
    assert "interrupted" not in stored.metadata


def test_prompt_contains_card_history_and_new_message(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "First.", "Second.")
    conversation = pipeline.start(mira, user_name="Ann")
    conversation.send("One?").text()
    conversation.send("Two?").text()
    prompt = pipeline.engine.prompts[-1]  # type: ignore[attr-defined]
    assert conversation.card.name in prompt
    assert prompt.index("One?") < prompt.index("First.") < prompt.index("Two?")


def test_regenerate_keeps_the_old_reply_as_a_swipe(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path, "Old reply.", "New reply.").start(mira)
    conversation.send("Hello?").text()
    conversation.regenerate().text()
    assert [m.content for m in conversation.swipes()] == ["Old reply.", "New reply."]
    assert conversation.messages()[-1].content == "New reply."
    chosen = conversation.swipe(1)
    assert chosen.content == "Old reply."
    assert conversation.messages()[-1].content == "Old reply."
    with pytest.raises(RoleplayError, match="no swipe 3"):
        conversation.swipe(3)


def test_regenerate_uses_only_the_history_before_the_reply(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "A1.", "A2.", "A1-bis.")
    conversation = pipeline.start(mira)
    conversation.send("Q1?").text()
    first_reply = conversation.messages()[-1]
    conversation.send("Q2?").text()
    conversation.regenerate(first_reply.id).text()
    prompt = pipeline.engine.prompts[-1]  # type: ignore[attr-defined]
    assert "Q1?" in prompt and "Q2?" not in prompt
    assert conversation.messages()[-1].content == "A1-bis."


def test_edit_user_message_branches_and_keeps_the_original(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path, "R1.", "R2.").start(mira)
    conversation.send("Original?").text()
    original = conversation.messages()[-2]
    conversation.edit_user_message(original.id, "Edited?").text()
    branch = conversation.messages()
    assert [m.content for m in branch[-2:]] == ["Edited?", "R2."]
    assert {m.content for m in conversation.store.siblings(original.id)} == {"Original?", "Edited?"}


def test_interrupted_stream_keeps_the_partial_reply(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path, "one two three four five").start(mira)
    pieces = iter(conversation.send("Talk."))
    received = [next(pieces), next(pieces)]
    pieces.close()  # what the CLI does on Ctrl+C
    last = conversation.messages()[-1]
    assert last.content == "".join(received).strip()
    assert last.metadata["interrupted"] is True


def test_cancel_event_stops_and_marks_the_reply(tmp_path: Path, mira: Path) -> None:
    cancel = threading.Event()
    conversation = _pipeline(tmp_path, "one two three four five").start(mira)
    stream = conversation.send("Talk.", cancel=cancel)
    for _ in stream:
        cancel.set()
    assert stream.result is not None and stream.result.interrupted
    assert conversation.messages()[-1].content == "one"


def test_interruption_before_any_token_leaves_the_user_message_as_head(
    tmp_path: Path, mira: Path
) -> None:
    cancel = threading.Event()
    cancel.set()
    conversation = _pipeline(tmp_path, "never said").start(mira)
    stream = conversation.send("Hello?", cancel=cancel)
    assert stream.text() == ""
    assert conversation.messages()[-1].role == "user"
    assert conversation.reply_to_head().text() == "never said"


def test_a_reply_stream_refuses_a_second_iteration(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "Only once.", "Never generated.")
    conversation = pipeline.start(mira)
    stream = conversation.send("Hello?")
    assert stream.text() == "Only once."
    count = conversation.store.count_messages(conversation.session.id)
    with pytest.raises(StreamConsumedError, match="already iterated"):
        iter(stream)
    with pytest.raises(RoleplayError, match="one reply only"):
        stream.text()
    assert pipeline.engine.calls == 1  # type: ignore[attr-defined]
    assert conversation.store.count_messages(conversation.session.id) == count
    assert conversation.regenerate().text() == "Never generated."


def test_an_interrupted_stream_is_not_restarted(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path, "one two three").start(mira)
    stream = conversation.send("Talk.")
    pieces = iter(stream)
    next(pieces)
    pieces.close()
    with pytest.raises(StreamConsumedError):
        list(stream)


def test_mood_sees_every_user_turn_and_memory_picks_its_window(tmp_path: Path, mira: Path) -> None:
    memory = _RecordingMemory()
    turns = [f"Turn {n}?" for n in range(6)]
    pipeline = ChatPipeline(
        ScriptedEngine(["Aye."] * len(turns)),
        SessionStore(tmp_path / "s.sqlite3"),
        memory_factory=lambda card: memory,
    )
    conversation = pipeline.start(mira)
    for turn in turns:
        conversation.send(turn).text()
    assert memory.queries[-1] == turns  # no window of the pipeline's own


def test_resume_continues_a_saved_session(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "First.", "Second.")
    session_id = pipeline.start(mira).session.id
    pipeline.resume(session_id).send("Hi").text()
    again = _pipeline(tmp_path, "Third.").resume(session_id)
    assert [m.content for m in again.messages()][-2:] == ["Hi", "First."]


def test_empty_message_is_refused_before_anything_is_stored(tmp_path: Path, mira: Path) -> None:
    conversation = _pipeline(tmp_path).start(mira)
    before = conversation.store.count_messages(conversation.session.id)
    with pytest.raises(RoleplayError, match="empty"):
        conversation.send("   ")
    assert conversation.store.count_messages(conversation.session.id) == before


class _RecordingMemory:
    def __init__(self) -> None:
        self.stored: list[tuple[str, str, int]] = []
        self.queries: list[list[str]] = []

    def recall_for_turn(
        self, query: str, recent_user_turns: list[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        self.queries.append(list(recent_user_turns))
        return [MemorySnippet("Mira lost a ship at Tessaly.", 0.8, "m1")], {"sadness": 0.7}

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        self.stored.append((user_text, reply_text, turn_index))


def test_memory_port_is_consulted_and_fed(tmp_path: Path, mira: Path) -> None:
    memory = _RecordingMemory()
    engine = ScriptedEngine(("I remember.", "Again."))
    pipeline = ChatPipeline(
        engine, SessionStore(tmp_path / "s.sqlite3"), memory_factory=lambda card: memory
    )
    conversation = pipeline.start(mira)
    stream = conversation.send("Do you remember Tessaly?")
    stream.text()
    conversation.send("And after?").text()
    assert "Mira lost a ship at Tessaly." in engine.prompts[0]
    assert memory.stored == [
        ("Do you remember Tessaly?", "I remember.", 0),
        ("And after?", "Again.", 1),
    ]
    assert memory.queries[-1] == ["Do you remember Tessaly?", "And after?"]
    assert conversation.messages()[-1].metadata["mood"] == {"sadness": 0.7}


def test_blank_user_name_is_refused(tmp_path: Path, mira: Path) -> None:
    with pytest.raises(RoleplayError, match="user name must not be empty"):
        _pipeline(tmp_path).start(mira, user_name="  ")


class _FlagEverything:
    def rate(self, text: str) -> dict[str, object]:
        return {"score": 0.9, "flagged": True, "scorer": "test"}


def test_safety_rating_is_stored_with_the_reply_and_nothing_is_dropped(
    tmp_path: Path, mira: Path
) -> None:
    pipeline = ChatPipeline(
        ScriptedEngine(("Rude words.",)),
        SessionStore(tmp_path / "s.sqlite3"),
        safety=_FlagEverything(),
    )
    conversation = pipeline.start(mira)
    conversation.send("Hi").text()
    reply = conversation.messages()[-1]
    assert reply.content == "Rude words."
    assert reply.metadata["toxicity"] == {"score": 0.9, "flagged": True, "scorer": "test"}


class _DyingEngine(ScriptedEngine):
    """Streams two words, then fails (as a server that died mid-reply does, or a bug)."""

    failure: Exception = RuntimeError("unset")

    def stream(self, prompt, settings, **kwargs):  # type: ignore[no-untyped-def]
        for index, event in enumerate(super().stream(prompt, settings, **kwargs)):
            if index == 2:
                raise self.failure
            yield event


@pytest.mark.parametrize(
    "failure",
    [
        BackendError("http://127.0.0.1:9/v1: the connection was lost mid-reply"),
        RuntimeError("an engine bug mid-reply"),
    ],
    ids=["backend", "any-error"],
)
def test_a_failure_mid_reply_keeps_the_message_and_stores_no_half_reply(
    tmp_path: Path, mira: Path, failure: Exception
) -> None:
    engine = _DyingEngine(("Aye, the engines are done for, captain.",))
    engine.failure = failure
    pipeline = ChatPipeline(engine, SessionStore(tmp_path / "s.sqlite3"))
    conversation = pipeline.start(mira, user_name="Ann")
    stream = conversation.send("Status?")
    with pytest.raises(type(failure), match="mid-reply"):
        stream.text()
    branch = conversation.messages()
    assert branch[-1].role == "user" and branch[-1].content == "Status?"
    assert stream.result is not None and stream.result.message is None
    # The conversation goes on: the next attempt answers the kept message.
    engine.__class__ = ScriptedEngine
    assert conversation.reply_to_head().text()


def test_messages_reach_the_engine_with_the_rendered_prompt(tmp_path: Path, mira: Path) -> None:
    pipeline = _pipeline(tmp_path, "Aye.")
    conversation = pipeline.start(mira, user_name="Ann")
    conversation.send("Status?").text()
    engine = pipeline.engine
    assert isinstance(engine, ScriptedEngine)
    sent = engine.messages[-1]
    assert sent[0].role == "system" and "Mira" in sent[0].content
    assert sent[-1].role == "user" and sent[-1].content == "Status?"
    assert engine.prompts[-1] == engine.render_chat(sent)


def test_background_parts_are_built_off_the_caller_thread(tmp_path: Path, mira: Path) -> None:
    built_on: list[str] = []

    def memory(card: object) -> None:
        built_on.append(threading.current_thread().name)
        return None

    pipeline = ChatPipeline(
        ScriptedEngine(("Aye.",)),
        SessionStore(tmp_path / "s.sqlite3"),
        memory_factory=memory,  # type: ignore[arg-type]
        background_parts=True,
    )
    conversation = pipeline.start(mira, user_name="Ann")
    assert conversation.send("Status?").text() == "Aye."
    assert built_on == ["conversation-parts"]


def test_the_generated_hook_runs_after_the_last_token_and_before_storing(
    tmp_path: Path, mira: Path
) -> None:
    """`roleplay serve` sends the tokens it holds back at this point, so the end of a reply
    reaches the client without waiting for the reply to be stored (memory, profile)."""
    pipeline = _pipeline(tmp_path, "one two three")
    conversation = pipeline.start(mira)
    prepared = conversation.prepare("Talk.")
    user = pipeline.store.append_message(conversation.session.id, "user", "Talk.")
    seen: list[tuple[int, str]] = []
    received: list[str] = []

    def generated() -> None:
        seen.append((len(received), conversation.messages()[-1].role))

    stream = ReplyStream(
        conversation,
        user,
        prepared,
        reply_settings(GenerationSettings(), "Ann"),
        None,
        on_generated=generated,
    )
    for piece in stream:
        received.append(piece)
    assert seen == [(len(received), "user")]  # every token out, the reply not yet stored
    assert conversation.messages()[-1].content == "one two three"
