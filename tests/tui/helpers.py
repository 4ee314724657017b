"""Driving the TUI in tests: an app wired to a scripted engine, and waiting without sleeps."""

from __future__ import annotations

import contextlib
import io
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from textual.geometry import Region
from textual.notifications import Notification
from textual.pilot import Pilot
from textual.widgets import Markdown

from roleplay.application import open_store
from roleplay.engine.base import GenerationSettings, GenerationStats, TokenEvent
from roleplay.pipeline import ChatPipeline, Conversation
from roleplay.prompting.builder import MemorySnippet
from tests.helpers.scripted_engine import ScriptedEngine
from tui.app import LaunchOptions, RoleplayApp
from tui.backend import PipelineFactory, SteeringAdjuster
from tui.screens.chat import ChatScreen
from tui.screens.picker import PickerScreen

DEFAULT_TIMEOUT = 30.0  # generous: CI machines share 2 cores with other work
REPO_ROOT = Path(__file__).resolve().parents[2]
MIRA = REPO_ROOT / "characters" / "mira.yaml"


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = DEFAULT_TIMEOUT
) -> None:
    """Let the app run until ``predicate()`` is true; fail with a message after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {predicate}")
        await pilot.pause(0.02)


class SteadyEngine(ScriptedEngine):
    """A scripted engine whose timing is fixed, so tokens/s is the same in every snapshot."""

    def stream(
        self,
        prompt: str,
        settings: GenerationSettings,
        *,
        messages: Sequence[Any] | None = None,
        logits_processors: Sequence[Any] = (),
        grammar: str | None = None,
        cancel: Any = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[TokenEvent]:
        stats = stats if stats is not None else GenerationStats()
        yield from super().stream(
            prompt,
            settings,
            messages=messages,
            logits_processors=logits_processors,
            cancel=cancel,
            stats=stats,
        )
        stats.seconds = stats.new_tokens / 25.0
        stats.ttft = 0.04


class FailingEngine(SteadyEngine):
    """Writes ``after`` words of its first reply, then raises ``error`` (a dying model or
    server); later replies are written whole."""

    def __init__(self, error: BaseException, replies: Sequence[str], *, after: int = 3) -> None:
        super().__init__(replies)
        self.error = error
        self.after = after

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[TokenEvent]:
        failing = self.calls == 0
        for index, event in enumerate(super().stream(*args, **kwargs)):
            if failing and index == self.after:
                raise self.error
            yield event


class StallingEngine(SteadyEngine):
    """Writes ``after`` words, then waits to be stopped (Esc): where a reply stops is fixed."""

    def __init__(self, replies: Sequence[str], *, after: int = 5) -> None:
        super().__init__(replies)
        self.after = after
        self.stalled = threading.Event()

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[TokenEvent]:
        cancel: threading.Event | None = kwargs.get("cancel")
        for index, event in enumerate(super().stream(*args, **kwargs)):
            if index == self.after and cancel is not None:
                self.stalled.set()
                cancel.wait(DEFAULT_TIMEOUT)
            yield event


class FakeMemory:
    """Recalls one memory and reports a fixed mood (the memory feature's port)."""

    def recall_for_turn(
        self, query: str, recent_user_turns: Sequence[str]
    ) -> tuple[list[MemorySnippet], dict[str, float]]:
        memory = MemorySnippet("Lost two crew on the Perihelion.", 0.83, "mira-0")
        return [memory], {"joy": 0.1, "trust": 0.2, "fear": 0.7, "sadness": 0.4}

    def remember_exchange(
        self, user_text: str, reply_text: str, session_id: str, turn_index: int
    ) -> None:
        return None


class FakeController:
    """Describes steering like the real controller; strengths can be changed."""

    def __init__(self, strengths: Mapping[str, float] | None = None) -> None:
        self.strengths = dict(strengths or {"warmth": 0.4, "formality": -0.2})

    def steering(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()

    def logits_processors(self) -> list[Any]:
        return []

    def describe(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "steering": {"strengths": dict(self.strengths), "max_strength": 1.0},
            "decoding": {"frequency_penalty": 0.3, "banned_phrases": []},
        }


def apply_strengths(conversation: Conversation, strengths: Mapping[str, float]) -> None:
    controller = conversation.controller
    assert isinstance(controller, FakeController)
    controller.strengths.update(strengths)


BIG_FIVE_STEERING = {
    "conscientiousness": 0.35,
    "agreeableness": -0.2,
    "extraversion": 0.1,
    "neuroticism": -0.45,
}
"""Steering with the longest attribute names there are (the bundled Big Five files)."""


def scripted_factory(
    engine: ScriptedEngine,
    *,
    with_features: bool = False,
    strengths: Mapping[str, float] | None = None,
) -> PipelineFactory:
    def build() -> ChatPipeline:
        return ChatPipeline(
            engine,
            open_store(),
            memory_factory=(lambda card: FakeMemory()) if with_features else None,
            control_factory=(lambda card: FakeController(strengths)) if with_features else None,
        )

    return build


def scripted_app(
    engine: ScriptedEngine | None = None,
    *,
    options: LaunchOptions | None = None,
    with_features: bool = False,
    steering: SteeringAdjuster | None = None,
    exports_dir: Path | None = None,
    strengths: Mapping[str, float] | None = None,
) -> RoleplayApp:
    """The real app with the pipeline built around ``engine`` instead of a language model."""
    factory = scripted_factory(
        engine or SteadyEngine(), with_features=with_features, strengths=strengths
    )
    return RoleplayApp(
        options,
        pipeline_factory=factory,
        steering=steering,
        cursor_blink=False,
        exports_dir=exports_dir,
    )


def live_text(screen: ChatScreen) -> str:
    """The reply being written, as shown so far ("" when none is)."""
    live = screen._live
    if live is None or not live.is_attached:
        return ""
    return live.query_one(".message-body", Markdown).source


def chat(app: RoleplayApp) -> ChatScreen:
    assert isinstance(app.screen, ChatScreen), f"on {type(app.screen).__name__}"
    return app.screen


def chat_ready(app: RoleplayApp) -> bool:
    return isinstance(app.screen, ChatScreen) and app.screen.session is not None


def idle_with(app: RoleplayApp, count: int) -> Callable[[], bool]:
    """A predicate: no reply running and ``count`` messages in view."""

    def check() -> bool:
        screen = app.screen
        return (
            isinstance(screen, ChatScreen)
            and not screen.generating
            and screen.view is not None
            and len(screen.view.messages) == count
            and len(screen.log_view.boxes()) == count
        )

    return check


def cards_loaded(app: RoleplayApp) -> bool:
    """The picker has read the cards (it does so in the background, after the first frame)."""
    pickers = [screen for screen in app.screen_stack if isinstance(screen, PickerScreen)]
    return bool(pickers and pickers[0].entries)


async def open_chat_with_first_character(pilot: Pilot[Any], app: RoleplayApp) -> ChatScreen:
    await wait_until(pilot, lambda: app.pipeline is not None and cards_loaded(app))
    await pilot.press("enter")
    await wait_until(pilot, lambda: chat_ready(app))
    return chat(app)


async def send(pilot: Pilot[Any], text: str) -> None:
    chat_screen = pilot.app.screen
    assert isinstance(chat_screen, ChatScreen)
    chat_screen.composer.focus()
    chat_screen.composer.value = text
    await pilot.press("enter")


def screen_text(app: RoleplayApp) -> list[str]:
    """The screen as plain text, one string per row (what a snapshot shows, without colour)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), record=True)
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text().splitlines()


def record_notifications(app: RoleplayApp) -> list[Notification]:
    """Every notification ``app`` raises from now on (the screens' ``notify`` ends here)."""
    raised: list[Notification] = []
    notify = app.notify

    def recording(message: str, **kwargs: Any) -> None:
        notify(message, **kwargs)
        raised.append(
            Notification(
                message,
                title=kwargs.get("title", ""),
                severity=kwargs.get("severity", "information"),
            )
        )

    app.notify = recording  # type: ignore[method-assign]
    return raised


def toast_regions(app: RoleplayApp) -> list[Region]:
    """Where the notifications on screen are drawn (``run_test(notifications=True)``)."""
    return [toast.region for toast in app.screen.query("Toast")]
