"""Driving the TUI in tests: an app wired to a scripted engine, and waiting without sleeps."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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

    def __init__(self) -> None:
        self.strengths = {"warmth": 0.4, "formality": -0.2}

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


def scripted_factory(engine: ScriptedEngine, *, with_features: bool = False) -> PipelineFactory:
    def build() -> ChatPipeline:
        return ChatPipeline(
            engine,
            open_store(),
            memory_factory=(lambda card: FakeMemory()) if with_features else None,
            control_factory=(lambda card: FakeController()) if with_features else None,
        )

    return build


def scripted_app(
    engine: ScriptedEngine | None = None,
    *,
    options: LaunchOptions | None = None,
    with_features: bool = False,
    steering: SteeringAdjuster | None = None,
    exports_dir: Path | None = None,
) -> RoleplayApp:
    """The real app with the pipeline built around ``engine`` instead of a language model."""
    return RoleplayApp(
        options,
        pipeline_factory=scripted_factory(engine or SteadyEngine(), with_features=with_features),
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
