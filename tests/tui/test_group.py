"""Group scenes in the TUI: `roleplay tui -c mira,sable,pip`, the cast, rounds of speakers,
choosing who speaks, scene changes, swipes, and user lines that keep their persona's name."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from typer.testing import CliRunner

from roleplay.application import open_store
from roleplay.groups.scene import start_group
from roleplay.pipeline import ChatPipeline
from tests.tui.helpers import (
    DEFAULT_TIMEOUT,
    MIRA,
    SteadyEngine,
    cards_loaded,
    chat,
    chat_ready,
    idle_with,
    open_chat_with_first_character,
    record_notifications,
    scripted_app,
    send,
    wait_until,
)
from tests.tui.test_personas import add_personas, option_texts
from tui.app import LaunchOptions, RoleplayApp
from tui.backend import ConversationView
from tui.screens.chat import ChatScreen
from tui.screens.picker import PickerScreen
from tui.widgets.cast import CastList
from tui.widgets.message import MessageBox

pytestmark = pytest.mark.anyio  # the coroutines drive the app (the CLI tests are plain)

CAPTAIN, SABLE, PIP = "Captain Mira Voss", "Sable", "Pip Marigold"
CARDS = [MIRA, MIRA.parent / "sable.yaml", MIRA.parent / "pip.yaml"]


def group_app(engine: SteadyEngine | None = None, *, order: str = "manual") -> RoleplayApp:
    return scripted_app(engine, options=LaunchOptions(character="mira,sable,pip", order=order))


async def open_group(pilot: Pilot[Any], app: RoleplayApp) -> ChatScreen:
    await wait_until(pilot, lambda: chat_ready(app))
    screen = chat(app)
    assert screen.is_group
    return screen


def view_of(screen: ChatScreen) -> ConversationView:
    assert screen.view is not None
    return screen.view


def labels(screen: ChatScreen) -> list[str]:
    """Who each line in the log is shown as said by (its header's name)."""
    return [box.speaker for box in screen.log_view.boxes()]


def header(box: MessageBox) -> str:
    return str(box.query_one(".message-header").render())


def cast_lines(screen: ChatScreen) -> list[str]:
    """Each member's two lines in the cast, joined: "▶ Sable / speaks next"."""
    texts = option_texts(screen.query_one(CastList))
    return [" / ".join(line.strip() for line in text.split("\n")) for text in texts]


def cast_line(screen: ChatScreen, name: str) -> str:
    return next(line for line in cast_lines(screen) if name in line)


def spoken(screen: ChatScreen) -> list[tuple[str, str]]:
    """(speaker, text) of the stored lines in view, events and greeting included."""
    view = view_of(screen)
    return [(view.speaker(m), m.content) for m in view.messages]


def idle(app: RoleplayApp, count: int) -> Any:
    return idle_with(app, count)


class GatedEngine(SteadyEngine):
    """Writes ``after`` words of its first reply, then waits for ``gate`` (the test decides
    when the line goes on)."""

    def __init__(self, replies: list[str], *, after: int = 2) -> None:
        super().__init__(replies)
        self.after = after
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        first = self.calls == 0
        for index, event in enumerate(super().stream(*args, **kwargs)):
            yield event
            if first and index == self.after - 1:
                self.waiting.set()
                self.gate.wait(DEFAULT_TIMEOUT)


# Opening -----------------------------------------------------------------------------------------


async def test_c_with_several_names_opens_a_scene_with_its_cast_and_labels_each_line() -> None:
    engine = SteadyEngine(["Quiet on the scopes.", "Pip reporting, all shiny!"])
    app = group_app(engine, order="round-robin")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        assert labels(screen) == [CAPTAIN]  # the first character's greeting opens the scene
        assert cast_lines(screen) == [
            f"● {CAPTAIN} / here",
            f"▶ {SABLE} / speaks next",  # round-robin: after the captain
            f"● {PIP} / here",
        ]
        await send(pilot, "Report, everyone.")
        await wait_until(pilot, idle(app, 3))
        await send(pilot, "")  # an empty line: the next speaker talks
        await wait_until(pilot, idle(app, 4))
        assert labels(screen) == [CAPTAIN, "User", SABLE, PIP]
        assert spoken(screen)[2:] == [
            (SABLE, "Quiet on the scopes."),
            (PIP, "Pip reporting, all shiny!"),
        ]
        assert [m.metadata.get("speaker") for m in view_of(screen).messages] == [
            CAPTAIN,
            None,
            SABLE,
            PIP,
        ]
        assert cast_line(screen, CAPTAIN).startswith("▶")  # round-robin comes back to her
        assert screen.composer.value == ""
        session_id = view_of(screen).session_id
    store = open_store()
    session = store.get_session(session_id)
    store.close()
    assert session.character == f"{CAPTAIN}, {SABLE}, {PIP}"
    assert session.metadata["group"]["order"] == "round-robin"


async def test_each_speaker_streams_into_its_own_box_one_after_another() -> None:
    engine = SteadyEngine(["Sable: one two three four five six", "Pip says seven eight nine ten"])
    app = group_app(engine, order="natural")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, f"/mute {CAPTAIN}")  # natural order, she stays out of it
        await wait_until(pilot, lambda: "muted" in cast_line(screen, CAPTAIN))
        # Each line gets its own box when it starts; by then the line before is stored.
        started: list[tuple[str, list[str], MessageBox]] = []
        start_live = screen.log_view.start_live

        async def recording(name: str, tint: int = 0) -> MessageBox:
            box = await start_live(name, tint)
            started.append((name, [speaker for speaker, _ in spoken(screen)], box))
            return box

        screen.log_view.start_live = recording  # type: ignore[method-assign]
        await send(pilot, "Sable, Pip: report!")  # both named: both answer, in that order
        await wait_until(pilot, idle(app, 4))
        assert [(name, before) for name, before, _ in started] == [
            (SABLE, [CAPTAIN, "User"]),
            (PIP, [CAPTAIN, "User", SABLE]),
        ]
        assert started[0][2] is not started[1][2]
        # Sable's own name label is not part of her line.
        assert spoken(screen)[2:] == [
            (SABLE, "one two three four five six"),
            (PIP, "Pip says seven eight nine ten"),
        ]
        boxes = screen.log_view.boxes()
        assert header(boxes[2]).startswith(SABLE) and header(boxes[3]).startswith(PIP)
        # Each character has its own colour; the first keeps the plain look.
        assert boxes[2].has_class("-tint-1") and boxes[3].has_class("-tint-2")
        assert not boxes[0].has_class("-tint-1")


async def test_a_tui_c_list_is_checked_like_roleplay_chat_before_the_model_loads(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from roleplay.cli.main import app as cli

    def never_runs(self: RoleplayApp) -> None:
        raise AssertionError("the app must not start")

    monkeypatch.setattr(RoleplayApp, "run", never_runs)
    for args, expected in [
        (["-c", "mira,nobody-here"], "nobody-here"),
        (["-c", "mira,,sable"], "empty name between commas"),
        (["-c", "mira,mira"], "named twice"),
        (["-c", "mira,sable", "--order", "loudest"], "speaker order 'loudest'"),
    ]:
        result = CliRunner().invoke(cli, ["tui", *args])
        assert result.exit_code == 2, (args, result.output)
        assert expected in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_tui_c_list_starts_the_app_with_the_scene_and_order(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from roleplay.cli.main import app as cli

    seen: dict[str, Any] = {}

    release = threading.Event()

    def run_headless(self: RoleplayApp) -> None:
        async def drive() -> None:
            async with self.run_test(size=(100, 30)) as pilot:
                await wait_until(pilot, lambda: isinstance(self.screen, ChatScreen))
                screen = chat(self)
                await wait_until(pilot, lambda: bool(screen.query(CastList)) and cast_lines(screen))
                seen["cast"] = cast_lines(screen)
                seen["options"] = self.options
                release.set()

        asyncio.run(drive())

    def never_loads(options: LaunchOptions) -> Any:
        def build() -> ChatPipeline:
            release.wait(DEFAULT_TIMEOUT)
            raise RuntimeError("no model in this test")

        return build

    monkeypatch.setattr("tui.app.default_pipeline_factory", never_loads)
    monkeypatch.setattr(RoleplayApp, "run", run_headless)
    result = CliRunner().invoke(cli, ["tui", "-c", "mira, sable ,pip", "--order", "manual"])
    assert result.exit_code == 0, result.output
    assert seen["options"].character == "mira, sable ,pip"
    assert seen["options"].order == "manual"
    # The cast is shown from the cards while the model loads.
    assert [line.split(" / ")[0][2:] for line in seen["cast"]] == [CAPTAIN, SABLE, PIP]


def _saved_scene() -> str:
    store = open_store()
    pipeline = ChatPipeline(SteadyEngine(["All quiet.", "Holding course."]), store)
    scene = start_group(pipeline, CARDS, user_name="Ann", order="round-robin")
    scene.send("Status?")
    scene.reply("sable").text()
    scene.mute("pip")
    scene.leave("pip")
    scene.reply("mira").text()
    store.close()
    return scene.session.id


async def test_a_saved_scene_reopens_with_session_and_from_the_picker() -> None:
    session_id = _saved_scene()
    app = scripted_app(SteadyEngine(["Noted."]), options=LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        assert labels(screen) == [CAPTAIN, "Ann", SABLE, "System", CAPTAIN]
        assert spoken(screen)[3] == ("System", f"{PIP} leaves the scene.")
        assert cast_line(screen, PIP) == f"○ {PIP} / away"
        assert cast_line(screen, SABLE).startswith("▶")  # round-robin: after the captain
        assert app.last_session_id == session_id

    app = scripted_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: app.pipeline is not None and cards_loaded(app))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        sable = next(i for i, e in enumerate(picker.entries) if e.name == SABLE)
        picker.query_one("#characters").highlighted = sable  # type: ignore[attr-defined]
        await pilot.pause()
        sessions = option_texts(picker.query_one("#sessions"))  # type: ignore[arg-type]
        assert len(sessions) == 2  # "+ New chat" and the scene Sable is in
        assert f"group: {CAPTAIN}, {SABLE}, {PIP}" in sessions[1]
        await pilot.press("tab", "down", "enter")
        screen = await open_group(pilot, app)
        assert view_of(screen).session_id == session_id


async def test_characters_marked_in_the_picker_start_a_scene_in_that_order() -> None:
    app = scripted_app(SteadyEngine())
    async with app.run_test(size=(100, 30)) as pilot:
        raised = record_notifications(app)
        await wait_until(pilot, lambda: app.pipeline is not None and cards_loaded(app))
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        characters = picker.query_one("#characters")
        names = [entry.name for entry in picker.entries]

        async def mark(name: str) -> None:
            characters.highlighted = names.index(name)  # type: ignore[attr-defined]
            await pilot.press("space")

        await mark(PIP)
        await pilot.press("g")  # one is not a scene
        assert any("two or more" in n.message for n in raised)
        await mark(SABLE)
        assert option_texts(characters)[names.index(SABLE)].startswith("✓ Sable")  # type: ignore[arg-type]
        assert any(f"{PIP}, {SABLE}" in n.message for n in raised)
        await pilot.press("g")
        screen = await open_group(pilot, app)
        assert [m.name for m in view_of(screen).group.members] == [PIP, SABLE]  # type: ignore[union-attr]
        assert labels(screen) == [PIP]  # the first one marked opens the scene
        await pilot.press("ctrl+o")
        await wait_until(pilot, lambda: isinstance(app.screen, PickerScreen))
        assert not any(text.startswith("✓") for text in option_texts(characters))  # type: ignore[arg-type]


# Choosing who speaks --------------------------------------------------------------------------


async def test_manual_order_waits_for_a_click_or_a_key_to_choose_the_speaker() -> None:
    engine = SteadyEngine(["Pip here!", "Sable. Listening.", "The captain speaks."])
    app = group_app(engine, order="manual")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, "Anyone?")
        await wait_until(pilot, lambda: "manual order" in screen.status.status.note)
        assert labels(screen) == [CAPTAIN, "User"]  # nobody speaks on their own

        # A click on Pip's name in the cast (each member takes two rows).
        await pilot.click("#cast", offset=(4, 4))
        await wait_until(pilot, idle(app, 3))
        assert spoken(screen)[-1] == (PIP, "Pip here!")

        await pilot.press("alt+2")  # the cast's 2nd character: Sable
        await wait_until(pilot, idle(app, 4))
        assert spoken(screen)[-1] == (SABLE, "Sable. Listening.")

        await pilot.press("f2")  # the cast, from the keyboard
        assert isinstance(app.focused, CastList)
        await pilot.press("home", "enter")
        await wait_until(pilot, idle(app, 5))
        assert spoken(screen)[-1] == (CAPTAIN, "The captain speaks.")

        await send(pilot, "/as pip")  # the CLI's command: names as the CLI resolves them
        await wait_until(pilot, idle(app, 6))
        assert spoken(screen)[-1][0] == PIP


async def test_a_name_chosen_while_a_line_is_written_speaks_next() -> None:
    engine = GatedEngine(["one two three four", "Pip jumps in!", "unused"], after=2)
    app = group_app(engine, order="manual")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await pilot.press("alt+2")  # Sable starts ...
        await wait_until(pilot, lambda: engine.waiting.is_set() and screen._live is not None)
        assert cast_line(screen, SABLE) == f"▶ {SABLE} / speaking…"
        await pilot.press("alt+3")  # ... and Pip is chosen meanwhile
        await wait_until(pilot, lambda: "speaks next" in cast_line(screen, PIP))
        assert "Pip Marigold speaks next" in screen.status.status.note
        engine.gate.set()
        await wait_until(pilot, idle(app, 3))
        assert [speaker for speaker, _ in spoken(screen)] == [CAPTAIN, SABLE, PIP]
        assert "speaks next" not in "".join(cast_lines(screen))


async def test_escape_stops_the_line_and_the_rest_of_the_round() -> None:
    engine = GatedEngine(["one two three four", "never said"], after=2)
    app = group_app(engine, order="natural")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, f"/mute {CAPTAIN}")
        await wait_until(pilot, lambda: "muted" in cast_line(screen, CAPTAIN))
        await send(pilot, "Sable, Pip: report!")
        await wait_until(pilot, lambda: engine.waiting.is_set())
        await pilot.press("escape")
        engine.gate.set()
        await wait_until(pilot, idle(app, 3))
        assert spoken(screen)[-1] == (SABLE, "one two")
        assert view_of(screen).messages[-1].metadata.get("interrupted") is True
        assert engine.calls == 1  # Pip was not asked


# Scene changes -------------------------------------------------------------------------------


async def test_leave_join_mute_and_order_change_the_scene_and_the_cast() -> None:
    engine = SteadyEngine(["Sable alone answers."])
    app = group_app(engine, order="natural")
    async with app.run_test(size=(100, 30)) as pilot:
        raised = record_notifications(app)
        screen = await open_group(pilot, app)
        await pilot.press("f2", "end", "l")  # Pip leaves
        await wait_until(pilot, lambda: cast_line(screen, PIP) == f"○ {PIP} / away")
        await wait_until(pilot, idle(app, 2))
        assert spoken(screen)[-1] == ("System", f"{PIP} leaves the scene.")
        assert screen.log_view.boxes()[-1].has_class("-event")

        await pilot.press("j")  # and comes back
        await wait_until(pilot, idle(app, 3))
        assert spoken(screen)[-1] == ("System", f"{PIP} joins the scene.")
        assert "away" not in cast_line(screen, PIP)

        await pilot.press("home", "m")  # the captain is muted
        await wait_until(pilot, lambda: "muted" in cast_line(screen, CAPTAIN))
        await send(pilot, "/mute pip")  # and Pip, typed as in the CLI
        await wait_until(pilot, lambda: "muted" in cast_line(screen, PIP))
        await send(pilot, "Anyone awake?")  # natural order: only Sable may answer
        await wait_until(pilot, idle(app, 5))
        assert spoken(screen)[-1] == (SABLE, "Sable alone answers.")

        await send(pilot, "/order round-robin")
        pane = screen.query_one("#cast-pane")
        await wait_until(pilot, lambda: pane.border_subtitle == "order: round-robin")

        await send(pilot, "/leave Zed")
        await wait_until(pilot, lambda: any("Zed" in n.message for n in raised))
        error = next(n for n in raised if "Zed" in n.message)
        assert error.severity == "error" and "'Zed' is not in this scene" in error.message
        assert len(error.message.splitlines()) == 1

        await send(pilot, "/join hana")  # a new character, by its card name
        await wait_until(pilot, lambda: len(cast_lines(screen)) == 4)
        assert spoken(screen)[-1] == ("System", "Hana Sato joins the scene.")

    store = open_store()
    session = store.get_session(view_of(screen).session_id)
    store.close()
    group = session.metadata["group"]
    assert group["muted"] == [CAPTAIN, PIP] and group["order"] == "round-robin"
    assert group["present"] == [CAPTAIN, SABLE, PIP, "Hana Sato"]


async def test_regenerate_and_swipe_a_characters_line() -> None:
    engine = SteadyEngine(["First try.", "Second try.", "Third try."])
    app = group_app(engine, order="manual")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, "Well?")
        await pilot.press("alt+2")
        await wait_until(pilot, idle(app, 3))
        await pilot.press("escape", "up", "r")  # the selected line, by the same character
        await wait_until(pilot, lambda: idle(app, 3)() and engine.calls == 2)
        last = view_of(screen).messages[-1]
        assert (view_of(screen).speaker(last), last.content) == (SABLE, "Second try.")
        assert (last.swipe_index, last.swipe_count) == (2, 2)
        assert header(screen.log_view.boxes()[-1]).startswith(f"{SABLE}  ‹2/2›")
        await pilot.press("left")
        await wait_until(pilot, lambda: view_of(screen).messages[-1].content == "First try.")
        await send(pilot, "/swipe 2")
        await wait_until(pilot, lambda: view_of(screen).messages[-1].content == "Second try.")
        await send(pilot, "/regen")
        await wait_until(pilot, lambda: view_of(screen).messages[-1].content == "Third try.")
        assert view_of(screen).messages[-1].swipe_count == 3


async def test_editing_a_message_in_a_scene_branches_and_the_next_speakers_answer() -> None:
    from tui.screens.edit import EditScreen

    engine = SteadyEngine(["Sable answers the new question."])
    app = group_app(engine, order="round-robin")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, "Wrong question")
        await wait_until(pilot, idle(app, 3))
        await pilot.press("escape", "up", "up", "e")
        await wait_until(pilot, lambda: isinstance(app.screen, EditScreen))
        app.screen.query_one("#editor").text = "Right question"  # type: ignore[attr-defined]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: idle(app, 3)() and engine.calls == 2)
        assert spoken(screen)[1:] == [
            ("User", "Right question"),
            (SABLE, "Sable answers the new question."),
        ]


async def test_an_echoing_line_is_written_again_and_the_box_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("roleplay.groups.echo")
    notes: list[str] = []
    restart = MessageBox.restart

    async def recording(self: MessageBox, note: str) -> None:
        notes.append(note)
        await restart(self, note)

    monkeypatch.setattr(MessageBox, "restart", recording)
    echo = "the drift logs are clean today captain"
    engine = SteadyEngine([echo, "Then we hold course."])
    app = group_app(engine, order="manual")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, f"Sable, {echo}")
        await pilot.press("alt+2")
        await wait_until(pilot, lambda: idle(app, 3)() and engine.calls == 2)
        last = view_of(screen).messages[-1]
        assert last.content == "Then we hold course."  # the echo was not kept
        assert last.metadata.get("echo_retries") == 1
        assert notes == ["again: that repeated 100% of what was said"]


# Who the user was ------------------------------------------------------------------------------


async def test_after_a_persona_switch_old_lines_keep_the_name_they_were_sent_under() -> None:
    add_personas()  # Alex, and Captain (the active one)
    engine = SteadyEngine(["Aye.", "Aye again.", "And again."])
    app = scripted_app(engine, options=LaunchOptions(user_name="Ann"))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_chat_with_first_character(pilot, app)
        await send(pilot, "Hello, I am Ann.")
        await wait_until(pilot, idle(app, 3))
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: not isinstance(app.screen, ChatScreen))
        await pilot.press("home", "enter")  # Alex
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        await wait_until(pilot, lambda: view_of(screen).user_name == "Alex")
        character = view_of(screen).character
        assert labels(screen) == [character, "Ann", character]  # not renamed
        await send(pilot, "Now I am Alex.")
        await wait_until(pilot, idle(app, 5))
        assert labels(screen) == [character, "Ann", character, "Alex", character]
        session_id = view_of(screen).session_id
        from tui.export import conversation_markdown

        markdown = conversation_markdown(view_of(screen))
        assert "**Ann:**\n\nHello, I am Ann." in markdown
        assert "**Alex:**\n\nNow I am Alex." in markdown

    # Reopened later, the names are the same.
    app = scripted_app(options=LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat_ready(app))
        assert [label for label in labels(chat(app)) if label != character] == ["Ann", "Alex"]


async def test_a_persona_switch_in_a_scene_keeps_the_old_name_on_old_lines() -> None:
    add_personas()
    engine = SteadyEngine(["Sable hears you.", "Sable hears Alex."])
    app = group_app(engine, order="round-robin")
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        await send(pilot, "First, as myself.")
        await wait_until(pilot, idle(app, 3))
        await send(pilot, "/persona alex")
        await wait_until(pilot, lambda: view_of(screen).user_name == "Alex")
        assert labels(screen) == [CAPTAIN, "User", SABLE]
        await send(pilot, "Now as Alex.")
        await wait_until(pilot, idle(app, 5))
        assert labels(screen) == [CAPTAIN, "User", SABLE, "Alex", PIP]
        session_id = view_of(screen).session_id

    app = scripted_app(options=LaunchOptions(session=session_id))
    async with app.run_test(size=(100, 30)) as pilot:
        screen = await open_group(pilot, app)
        assert labels(screen) == [CAPTAIN, "User", SABLE, "Alex", PIP]


async def test_unknown_commands_and_bad_arguments_are_one_line_errors() -> None:
    app = group_app(SteadyEngine(), order="manual")
    async with app.run_test(size=(100, 30)) as pilot:
        raised = record_notifications(app)
        screen = await open_group(pilot, app)
        for line, expected in [
            ("/dance", "unknown command /dance"),
            ("/as", "usage: /as NAME"),
            ("/swipe x", "usage: /swipe N"),
            ("/as Zed", "'Zed' is not in this scene"),
            ("/swipe 3", "/swipe 3: that line has 1 version(s)"),
            ("/persona Nobody", "/persona Nobody"),
        ]:
            await send(pilot, line)
            await wait_until(pilot, lambda e=expected: any(e in n.message for n in raised))  # type: ignore[misc]
        assert all(n.severity == "error" for n in raised)
        assert labels(screen) == [CAPTAIN]  # nothing was sent to the scene


def test_the_session_list_names_a_scenes_cast(tmp_path: Path) -> None:
    from tui.screens.picker import group_members, sessions_with

    session_id = _saved_scene()
    store = open_store()
    sessions = store.list_sessions()
    store.close()
    assert group_members(sessions[0]) == [CAPTAIN, SABLE, PIP]
    assert [s.id for s in sessions_with(sessions, PIP)] == [session_id]  # it left, still listed
    assert sessions_with(sessions, "Hana Sato") == []
