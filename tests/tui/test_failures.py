"""When things go wrong: failed replies and workers, the Stopped notice, broken cards and
unknown sessions before the model loads, interrupted replies in the history."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from roleplay.application import open_store
from roleplay.engine.base import BackendError
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import (
    BIG_FIVE_STEERING,
    DEFAULT_TIMEOUT,
    MIRA,
    FailingEngine,
    StallingEngine,
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    live_text,
    open_chat_with_first_character,
    record_notifications,
    screen_text,
    scripted_app,
    scripted_factory,
    send,
    toast_regions,
    wait_until,
)
from tui.app import LaunchOptions, RoleplayApp
from tui.backend import ConversationView, MessageView, describe_error
from tui.export import conversation_markdown
from tui.screens.chat import ChatScreen
from tui.screens.error import ErrorScreen
from tui.screens.picker import PickerScreen

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app

TAB_INDENTED = "name: Tabby\npersonality:\n\tbig_five: {openness: 0.5}\n"


def _errors(raised: list[Any]) -> list[Any]:
    return [n for n in raised if n.severity == "error"]


def _view(screen: ChatScreen) -> ConversationView:
    assert screen.view is not None
    return screen.view


def _messages(screen: ChatScreen) -> tuple[MessageView, ...]:
    return _view(screen).messages


def _error(app: RoleplayApp) -> str:
    assert isinstance(app.screen, ErrorScreen), f"on {type(app.screen).__name__}"
    return app.screen.message


# A reply, or another worker, fails ------------------------------------------------------------


async def test_a_reply_failing_midway_is_reported_and_the_chat_goes_on() -> None:
    engine = FailingEngine(
        RuntimeError("CUDA error: an illegal memory access [code 700]"),
        ["word0 word1 word2 word3 word4 word5", "The second try works."],
    )
    app = scripted_app(engine)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        raised = record_notifications(app)
        await send(pilot, "First question")
        await wait_until(pilot, lambda: bool(_errors(raised)) and not screen.generating)

        # The app and the chat are still there; one line says what failed and why.
        assert app.is_running and app.screen is screen
        [note] = _errors(raised)
        assert "The reply failed" in note.message
        assert "RuntimeError: CUDA error: an illegal memory access [code 700]" in note.message
        assert "\n" not in note.message
        await pilot.pause()
        assert toast_regions(app), "the error is on screen"

        # The user's message is kept; no half reply passes for a whole one: whatever the
        # pipeline kept of it is marked interrupted, in the store and on screen.
        await wait_until(pilot, lambda: screen.log_view.live() is None)
        await wait_until(pilot, lambda: _messages(screen)[1].content == "First question")
        kept = _messages(screen)[2:]
        assert len(kept) <= 1
        assert all(message.metadata.get("interrupted") for message in kept)
        for box in screen.log_view.boxes()[2:]:
            assert "interrupted" in str(box.query_one(".message-header").render())

        # Typing works again (keys into the box that kept the focus), and the next reply is
        # written whole.
        assert screen.composer.value == "" and screen.focused is screen.composer
        await pilot.press(*"Second question", "enter")
        await wait_until(pilot, lambda: not screen.generating and screen._live is None)
        await wait_until(pilot, lambda: _messages(screen)[-1].content == "The second try works.")
        assert _messages(screen)[-2].content == "Second question"
        assert len(_errors(raised)) == 1


async def test_a_backend_dying_midway_stores_no_half_reply_and_ctrl_r_retries() -> None:
    # BackendError is not a RoleplayError: it used to close the app.
    engine = FailingEngine(
        BackendError("http://127.0.0.1:8080/v1: the connection was lost"),
        ["Half of a sentence that never ends", "Whole this time."],
    )
    app = scripted_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        raised = record_notifications(app)
        await send(pilot, "Are you there?")
        await wait_until(pilot, lambda: bool(_errors(raised)))
        assert "the connection was lost" in _errors(raised)[0].message
        await wait_until(pilot, idle_with(app, 2))  # the greeting and the message: no reply
        assert _messages(screen)[-1].role == "user"
        store = open_store()
        assert [m.role for m in store.branch(_view(screen).session_id)] == ["assistant", "user"]
        store.close()
        await pilot.press("ctrl+r")
        await wait_until(pilot, idle_with(app, 3))
        assert _messages(screen)[-1].content == "Whole this time."


async def test_a_turn_failing_before_the_reply_starts_leaves_the_box_usable() -> None:
    class BrokenRecall:
        def recall_for_turn(self, query: str, recent: Any) -> Any:
            raise OSError("[Errno 28] No space left on device")

        def remember_exchange(self, *args: Any) -> None:
            return None

    engine = SteadyEngine(["Unused."])

    def build() -> ChatPipeline:
        return ChatPipeline(engine, open_store(), memory_factory=lambda card: BrokenRecall())

    app = RoleplayApp(pipeline_factory=build, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        raised = record_notifications(app)
        await send(pilot, "Remember me?")
        await wait_until(pilot, lambda: bool(_errors(raised)) and not screen.generating)
        # Brackets in the error are its words, not markup.
        assert "OSError: [Errno 28] No space left on device" in _errors(raised)[0].message
        await pilot.pause(0.2)
        # Recall runs before the message is committed: it stays in the box, to send again.
        assert [m.role for m in _messages(screen)] == ["assistant"]
        assert screen.composer.value == "Remember me?"
        assert app.is_running and app.screen is screen


async def test_a_turn_failing_after_the_message_is_committed_clears_the_box() -> None:
    app = scripted_app(SteadyEngine(["Unused."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        raised = record_notifications(app)
        session = screen.session
        assert session is not None
        view = session.view
        calls = []

        def view_failing_once() -> Any:
            calls.append(1)
            if len(calls) == 1:  # the turn's own view, after the message was committed
                raise RuntimeError("view failed")
            return view()

        session.view = view_failing_once  # type: ignore[method-assign]
        await send(pilot, "Committed?")
        await wait_until(pilot, lambda: bool(_errors(raised)) and not screen.generating)
        await wait_until(pilot, lambda: len(_messages(screen)) == 2)
        assert _messages(screen)[-1].content == "Committed?"
        assert screen.composer.value == ""  # in the log now: not to be sent twice


async def test_a_failing_swipe_and_steering_change_are_notified() -> None:
    def broken_adjuster(conversation: Any, strengths: Any) -> None:
        raise ValueError("strength out of range")

    app = scripted_app(SteadyEngine(["One."]), with_features=True, steering=broken_adjuster)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        raised = record_notifications(app)
        steering = screen.panel.query_one("#panel-steering")
        steering.focus()
        await pilot.press("right")
        await wait_until(pilot, lambda: bool(_errors(raised)))
        assert "steering change failed: ValueError: strength out of range" in (
            _errors(raised)[0].message
        )

        session = screen.session
        assert session is not None

        def broken_swipe(message_id: int, index: int) -> Any:
            raise KeyError(message_id)

        session.swipe = broken_swipe  # type: ignore[method-assign]
        await pilot.press("escape", "up", "right")  # the greeting has an alternate
        await wait_until(pilot, lambda: len(_errors(raised)) == 2)
        assert _errors(raised)[1].message.startswith("Swiping failed: KeyError")
        assert app.is_running and app.screen is screen


async def test_opening_failing_with_any_error_shows_the_error_screen() -> None:
    class BrokenPipeline(ChatPipeline):
        def start(self, *args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("the memory store is locked")

    def build() -> ChatPipeline:
        return BrokenPipeline(SteadyEngine(), open_store())

    app = RoleplayApp(pipeline_factory=build, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.pipeline is not None and cards_loaded(app))
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert "RuntimeError: the memory store is locked" in _error(app)
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))


def test_errors_are_described_in_one_line() -> None:
    assert describe_error(BackendError("server gone")) == "server gone"
    assert describe_error(RuntimeError("boom")) == "RuntimeError: boom"
    assert describe_error(KeyError()) == "KeyError"
    assert describe_error(ValueError("first\nsecond\nthird")) == "ValueError: first (+2 more)"
    assert describe_error(ValueError("a\nb"), one_line=False) == "ValueError: a\nb"
    assert len(describe_error(RuntimeError("x" * 500))) == 200


# Notices never cover the input --------------------------------------------------------------


async def test_stopping_says_so_on_the_status_line_not_over_the_input() -> None:
    engine = StallingEngine([" ".join(f"word{i}" for i in range(40))])
    app = scripted_app(engine)
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Go on.")
        await wait_until(pilot, lambda: engine.stalled.is_set() and "word4" in live_text(screen))
        await pilot.press("escape")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.pause()
        assert "stopped · what was written is kept" in str(screen.status.render())
        assert not toast_regions(app)
        composer_row = screen.composer.region.y + 1
        assert "(↑ selects messages · F1 help)" in screen_text(app)[composer_row]
        # The next turn takes the note away.
        await send(pilot, "Again.")
        await wait_until(pilot, lambda: "stopped" not in str(screen.status.render()))
        await pilot.press("escape")
        await wait_until(pilot, idle_with(app, 5))


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_notifications_stand_above_the_input(size: tuple[int, int]) -> None:
    app = scripted_app(StallingEngine(["a b c d e f g h i j k l"], after=2))
    async with app.run_test(size=size, notifications=True) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Hello")
        await wait_until(pilot, lambda: screen.generating)
        await pilot.press("ctrl+r")  # "A reply is being written; Esc stops it."
        await wait_until(pilot, lambda: bool(toast_regions(app)))
        await pilot.pause()
        for toast in toast_regions(app):
            assert not toast.overlaps(screen.composer.region)
            assert not toast.overlaps(screen.status.region)
        await pilot.press("escape")
        await wait_until(pilot, idle_with(app, 3))


# Panel labels are whole -----------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_panel_labels_are_whole(size: tuple[int, int]) -> None:
    app = scripted_app(SteadyEngine(["Noted."]), with_features=True, strengths=BIG_FIVE_STEERING)
    async with app.run_test(size=size) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        if size[0] < 100:
            await pilot.press("ctrl+t")  # the panel is hidden by default below 100 columns
        await pilot.pause()
        assert screen.panel.display
        character = _shown(app, "#panel-character")
        for trait in ("openness", "conscientiousness", "extraversion", "agreeableness"):
            assert trait in character, trait
        assert "neuroticism" in character and "0.90" in character  # Elias, the first card
        screen.panel.scroll_end(animate=False)
        await pilot.pause()
        steering = _shown(app, "#panel-steering")
        for attribute in BIG_FIVE_STEERING:
            assert attribute in steering, attribute
        assert "+0.35" in steering and "-0.45" in steering and "│" in steering
        assert "…" not in character + steering


def _shown(app: RoleplayApp, selector: str) -> str:
    """The text a widget shows on screen, cut out of the whole screen's text."""
    region = app.screen.query_one(selector).content_region
    rows = screen_text(app)[region.y : region.bottom]
    return "\n".join(row[region.x : region.right] for row in rows)


# A broken card or an unknown session is reported before the model loads ----------------------


def _slow_app(options: LaunchOptions) -> tuple[RoleplayApp, threading.Event]:
    """An app whose model does not load until released (a first start takes minutes)."""
    release = threading.Event()
    build = scripted_factory(SteadyEngine())

    def slow_build() -> ChatPipeline:
        release.wait(DEFAULT_TIMEOUT)
        return build()

    return RoleplayApp(options, pipeline_factory=slow_build, cursor_blink=False), release


async def test_a_tab_indented_card_is_reported_before_the_model_loads(tmp_path: Path) -> None:
    card = tmp_path / "tabby.yaml"
    card.write_text(TAB_INDENTED)
    app, release = _slow_app(LaunchOptions(character=str(card)))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.pipeline is None
        assert "tabby.yaml:3:1" in _error(app)
        assert "indent with spaces" in _error(app)
        release.set()
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))


async def test_an_unknown_session_is_reported_before_the_model_loads() -> None:
    app, release = _slow_app(LaunchOptions(session="0123456789ab"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.pipeline is None
        assert "unknown session '0123456789ab'" in _error(app)
        release.set()


async def test_a_session_whose_card_broke_is_reported_before_the_model_loads(
    isolated_home: Path,
) -> None:
    card = isolated_home / "characters" / "mira-copy.yaml"
    card.parent.mkdir(parents=True)
    card.write_text(MIRA.read_text())
    store = open_store()
    session_id = ChatPipeline(SteadyEngine(), store).start(card).session.id
    store.close()
    card.write_text(TAB_INDENTED)

    app, release = _slow_app(LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.pipeline is None
        assert "mira-copy.yaml:3:1" in _error(app)
        release.set()


async def test_a_group_scene_shows_its_cast_while_the_model_loads(isolated_home: Path) -> None:
    from roleplay.groups.scene import start_group
    from tui.widgets.cast import CastList

    store = open_store()
    scene = start_group(ChatPipeline(SteadyEngine(), store), [MIRA, MIRA.parent / "sable.yaml"])
    session_id = scene.session.id
    store.close()
    app, release = _slow_app(LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        screen = chat(app)
        await wait_until(pilot, lambda: bool(screen.query(CastList)))
        assert app.pipeline is None
        assert screen.is_group and screen.composer.placeholder == "Message the scene…"
        release.set()
        await wait_until(pilot, lambda: chat_ready(app))
        assert _view(screen).session_id == session_id


async def test_a_group_scene_whose_card_is_gone_is_reported_before_the_model_loads(
    isolated_home: Path,
) -> None:
    from roleplay.groups.scene import start_group

    card = isolated_home / "characters" / "sable-copy.yaml"
    card.parent.mkdir(parents=True)
    card.write_text((MIRA.parent / "sable.yaml").read_text())
    store = open_store()
    scene = start_group(ChatPipeline(SteadyEngine(), store), [MIRA, card])
    session_id = scene.session.id
    store.close()
    card.unlink()
    app, release = _slow_app(LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ErrorScreen))
        assert app.pipeline is None
        assert "Sable's card" in _error(app) and "no longer exists" in _error(app)
        release.set()


async def test_a_known_session_shows_its_character_while_the_model_loads() -> None:
    store = open_store()
    session_id = ChatPipeline(SteadyEngine(), store).start(MIRA).session.id
    store.close()
    app, release = _slow_app(LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        screen = chat(app)
        await wait_until(pilot, lambda: "Captain Mira Voss" in screen.composer.placeholder)
        assert app.pipeline is None
        release.set()
        await wait_until(pilot, lambda: chat_ready(app))
        assert _view(screen).session_id == session_id


def test_roleplay_tui_c_with_a_broken_card_says_so_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from roleplay.cli.main import app as cli

    card = tmp_path / "tabby.yaml"
    card.write_text(TAB_INDENTED)
    release = threading.Event()
    seen: dict[str, Any] = {}

    def never_loads(options: LaunchOptions) -> Any:
        def build() -> ChatPipeline:
            release.wait(DEFAULT_TIMEOUT)
            raise RuntimeError("the test released the model")

        return build

    def run_headless(self: RoleplayApp) -> None:
        async def drive() -> None:
            async with self.run_test(size=(80, 24)) as pilot:
                await wait_until(pilot, lambda: isinstance(self.screen, ErrorScreen))
                seen["message"] = self.screen.message  # type: ignore[attr-defined]
                seen["loaded"] = self.pipeline is not None
                seen["character"] = self.options.character
                release.set()

        asyncio.run(drive())

    monkeypatch.setattr("tui.app.default_pipeline_factory", never_loads)
    monkeypatch.setattr(RoleplayApp, "run", run_headless)
    result = CliRunner().invoke(cli, ["tui", "-c", str(card)])
    assert result.exit_code == 0, result.output
    assert seen["character"] == str(card)
    assert seen["loaded"] is False
    assert "indent with spaces" in seen["message"]


# Interrupted replies are marked in the history ------------------------------------------------


async def test_a_reopened_session_marks_the_interrupted_reply() -> None:
    store = open_store()
    conversation = ChatPipeline(SteadyEngine(["one two three four five"]), store).start(MIRA)
    stream = conversation.send("Tell me a story")
    pieces = iter(stream)
    next(pieces), next(pieces)
    assert isinstance(pieces, Generator)
    pieces.close()  # stopped after two words: stored with interrupted: true
    session_id = conversation.session.id
    assert conversation.messages()[-1].metadata.get("interrupted") is True
    store.close()

    app = scripted_app(options=LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        screen = chat(app)
        header = str(screen.log_view.boxes()[-1].query_one(".message-header").render())
        assert "interrupted" in header
        assert "interrupted" not in str(
            screen.log_view.boxes()[0].query_one(".message-header").render()
        )
        reply = str(screen.panel.query_one("#panel-reply").render())
        assert "interrupted" in reply or "stopped" in reply
        assert view_markdown_marks_interrupted(screen)


def view_markdown_marks_interrupted(screen: ChatScreen) -> bool:
    text = conversation_markdown(_view(screen))
    return text.count("*(interrupted)*") == 1
