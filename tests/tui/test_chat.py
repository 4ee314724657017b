"""The chat screen driven like a user would, against a scripted engine."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from roleplay.application import open_store
from tests.tui.helpers import (
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    live_text,
    open_chat_with_first_character,
    scripted_app,
    send,
    wait_until,
)
from tui.app import LaunchOptions
from tui.screens.edit import EditScreen
from tui.widgets.message import MessageBox

pytestmark = pytest.mark.anyio  # every test here is a coroutine driving the app

LONG_REPLY = " ".join(f"word{i}" for i in range(60))


async def test_send_streams_the_reply_piece_by_piece() -> None:
    engine = SteadyEngine(["Aye, navigator. *She nods.* Check the drift logs."], delay=0.12)
    app = scripted_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        assert len(screen.view.messages) == 1  # the greeting

        await pilot.press(*"Hello captain", "enter")
        # The live box fills up while the engine is still producing words.
        await wait_until(pilot, lambda: screen._live is not None and screen.generating)
        live = screen._live
        assert live is not None
        seen: list[str] = []
        while screen.generating and screen._live is live:
            body = live_text(screen)
            if body and (not seen or body != seen[-1]):
                seen.append(body)
            await pilot.pause(0.01)
        assert len(seen) >= 3, seen  # several partial renders, not one final paint
        await wait_until(pilot, idle_with(app, 3))
        reply = screen.view.messages[-1]
        assert reply.role == "assistant"
        assert reply.content == "Aye, navigator. *She nods.* Check the drift logs."
        assert screen.composer.value == ""
        assert "tok/s" in str(screen.status.render())


async def test_the_user_message_is_on_disk_before_the_reply_is_written() -> None:
    gate = threading.Event()

    class GatedEngine(SteadyEngine):
        def stream(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            gate.wait(5)
            yield from super().stream(*args, **kwargs)

    app = scripted_app(GatedEngine(["Noted."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Do not lose this.")
        await wait_until(pilot, lambda: screen._live is not None)
        store = open_store()
        assert store.branch(screen.view.session_id)[-1].content == "Do not lose this."
        store.close()
        # Committed, so the composer was cleared; the reply has not started.
        assert screen.composer.value == ""
        gate.set()
        await wait_until(pilot, idle_with(app, 3))


async def test_the_ui_stays_responsive_while_a_reply_is_written() -> None:
    # ~20 s of "generation", stopped with escape at the end: long enough that a loaded
    # machine cannot finish the reply before the checks below (3 s once could).
    very_long = " ".join(f"word{i}" for i in range(400))
    app = scripted_app(SteadyEngine([very_long], delay=0.05))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Tell me everything.")
        await wait_until(pilot, lambda: screen._live is not None)
        # How long a callback waits in the app's queue while pieces stream in.
        latencies = []
        for _ in range(10):
            handled = asyncio.Event()
            started = time.perf_counter()
            app.call_later(handled.set)
            await handled.wait()
            latencies.append(time.perf_counter() - started)
            await pilot.pause(0.05)
        await pilot.press(*"typing", "ctrl+t")
        assert screen.generating, "the reply should still be running"
        assert max(latencies) < 0.25, latencies
        assert screen.composer.value == "typing"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.generating)


async def test_escape_stops_the_reply_and_keeps_what_was_written() -> None:
    app = scripted_app(SteadyEngine([LONG_REPLY], delay=0.05))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Go on.")
        await wait_until(pilot, lambda: "word3" in live_text(screen))
        await pilot.press("escape")
        await wait_until(pilot, idle_with(app, 3))
        reply = screen.view.messages[-1]
        assert reply.metadata.get("interrupted") is True
        assert reply.content.startswith("word0 word1 word2")
        assert "word59" not in reply.content
        header = screen.log_view.boxes()[-1].query_one(".message-header")
        assert "interrupted" in str(header.render())


async def test_regenerate_an_earlier_reply_then_swipe_back_to_the_original() -> None:
    engine = SteadyEngine(["First answer.", "Second answer.", "Redone first answer."])
    app = scripted_app(engine)
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "One?")
        await wait_until(pilot, idle_with(app, 3))
        await send(pilot, "Two?")
        await wait_until(pilot, idle_with(app, 5))

        # ↑ selects the last message; two more ↑ reach the first reply.
        await pilot.press("up", "up", "up")
        assert isinstance(screen.focused, MessageBox)
        assert screen.focused.message is not None
        assert screen.focused.message.content == "First answer."
        await pilot.press("r")
        await wait_until(pilot, idle_with(app, 3))
        redone = screen.view.messages[-1]
        assert redone.content == "Redone first answer."
        assert (redone.swipe_index, redone.swipe_count) == (2, 2)
        # The new reply keeps the selection, so ← flips straight back.
        assert isinstance(screen.focused, MessageBox)
        await pilot.press("left")
        await wait_until(pilot, idle_with(app, 5))
        texts = [m.content for m in screen.view.messages]
        assert texts[2:] == ["First answer.", "Two?", "Second answer."]
        assert (screen.view.messages[2].swipe_index, screen.view.messages[2].swipe_count) == (1, 2)
        await pilot.press("right")
        await wait_until(pilot, idle_with(app, 3))
        assert screen.view.messages[-1].content == "Redone first answer."


async def test_right_past_the_last_alternative_writes_a_new_one() -> None:
    app = scripted_app(SteadyEngine(["Take one.", "Take two."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Again?")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.press("up", "right")
        await wait_until(
            pilot, lambda: idle_with(app, 3)() and screen.view.messages[-1].swipe_count == 2
        )
        assert screen.view.messages[-1].content == "Take two."
        await pilot.press("ctrl+r")  # from the selection, the same as r
        await wait_until(
            pilot, lambda: idle_with(app, 3)() and screen.view.messages[-1].swipe_count == 3
        )


async def test_the_greeting_is_not_regenerated_but_its_alternates_swipe() -> None:
    app = scripted_app(options=LaunchOptions(character="mira"))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        screen = chat(app)
        greeting = screen.view.messages[0]
        assert greeting.swipe_count == 2
        await pilot.press("up", "right")
        await wait_until(pilot, lambda: screen.view.messages[0].swipe_index == 2)
        await pilot.press("r")
        await pilot.pause()
        assert not screen.generating


async def test_edit_a_user_message_branches_and_regenerates() -> None:
    app = scripted_app(SteadyEngine(["Reply to original.", "Reply to the edit."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Original words")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.press("up", "up")  # the reply, then my message
        assert screen.focused.message.role == "user"  # type: ignore[union-attr]
        await pilot.press("e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen))
        editor = app.screen.query_one("#editor")
        editor.text = "Edited words"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: chat_ready(app) and idle_with(app, 3)())
        assert [m.content for m in screen.view.messages[1:]] == [
            "Edited words",
            "Reply to the edit.",
        ]
        assert screen.view.messages[1].metadata["edited_from"]
        store = open_store()
        originals = store.siblings(screen.view.messages[1].id)
        assert [m.content for m in originals] == ["Original words", "Edited words"]
        store.close()


async def test_auto_scroll_follows_only_when_at_the_bottom() -> None:
    app = scripted_app(SteadyEngine([LONG_REPLY], delay=0.01))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        for turn in range(3):
            await send(pilot, f"Turn {turn}")
            await wait_until(pilot, idle_with(app, 3 + 2 * turn))
        log = screen.log_view
        await wait_until(pilot, lambda: log.scroll_y == log.max_scroll_y)
        assert log.max_scroll_y > 0

        await pilot.press("pageup")
        await pilot.wait_for_scheduled_animations()  # page up scrolls smoothly: let it land
        await pilot.pause()
        reading = log.scroll_y
        assert reading < log.max_scroll_y
        await pilot.press("ctrl+r")  # a new reply streams in below
        await wait_until(pilot, lambda: not screen.generating and screen._live is None)
        await pilot.pause()
        assert log.scroll_y == reading  # the text being read did not move

        log.scroll_end(animate=False)  # back at the bottom: following again
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.generating and screen._live is None)
        await pilot.pause()
        assert log.scroll_y == log.max_scroll_y


async def test_sending_while_the_model_loads_keeps_the_text(tmp_path: Path) -> None:
    release = threading.Event()
    engine = SteadyEngine(["Ready."])

    from tests.tui.helpers import scripted_factory

    build = scripted_factory(engine)

    def slow_build():  # type: ignore[no-untyped-def]
        release.wait(5)
        return build()

    from tui.app import RoleplayApp

    app = RoleplayApp(pipeline_factory=slow_build, cursor_blink=False)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: cards_loaded(app))  # the model is still loading
        await pilot.press("enter")  # open the first character while loading
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "ChatScreen")
        screen = chat(app)
        await send(pilot, "Are you there?")
        await pilot.pause()
        assert screen.composer.value == "Are you there?"
        assert "loading" in str(screen.status.render())
        release.set()
        await wait_until(pilot, lambda: chat_ready(app))
        await pilot.press("enter")
        await wait_until(pilot, idle_with(app, 3))


async def test_export_writes_markdown_under_the_exports_folder(tmp_path: Path) -> None:
    app = scripted_app(SteadyEngine(["Logged."]), exports_dir=tmp_path / "exports")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Log this.")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.press("ctrl+s")
        files = list((tmp_path / "exports").glob("*.md"))
        assert len(files) == 1
        assert files[0].name.endswith(f"-{screen.view.session_id}.md")
        text = files[0].read_text()
        assert "**User:**" in text and "Log this." in text and "Logged." in text


async def test_back_to_characters_and_the_session_is_listed_first() -> None:
    app = scripted_app(SteadyEngine(["Fine."]))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        session_id = screen.view.session_id
        await send(pilot, "Bye")
        await wait_until(pilot, idle_with(app, 3))
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: app.screen.__class__.__name__ == "PickerScreen")
        sessions = app.screen.query_one("#sessions")
        assert sessions.get_option_at_index(1).id == session_id  # type: ignore[attr-defined]


async def test_quitting_mid_reply_keeps_the_message_and_the_partial_reply() -> None:
    app = scripted_app(SteadyEngine([LONG_REPLY], delay=0.05))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        session_id = screen.view.session_id
        await send(pilot, "Quick question")
        await wait_until(
            pilot,
            lambda: "word2" in live_text(screen),
        )
        await pilot.press("ctrl+q")
    assert app.return_value == session_id
    store = open_store()
    *_, question, reply = store.branch(session_id)
    store.close()
    assert question.content == "Quick question"
    assert reply.role == "assistant" and reply.metadata["interrupted"] is True
    assert reply.content.startswith("word0 word1 word2")
