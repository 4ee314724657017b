"""The Textual app: screens, the model loading in the background, app-wide keys and commands.

Start-up order matters for the first frame: nothing heavy is imported here (torch and
transformers come in with the pipeline factory, on the pipeline thread), and the model starts
loading only after the first refresh, so the picker appears at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.worker import get_current_worker

if TYPE_CHECKING:
    from roleplay.pipeline import ChatPipeline
    from roleplay.sessions import SessionStore

from roleplay import paths
from roleplay.errors import RoleplayError
from roleplay.resources import package_path
from tui.backend import (
    Abandoned,
    ChatTarget,
    Identity,
    PipelineFactory,
    PipelineThread,
    SteeringAdjuster,
)
from tui.keys import APP_KEYS, bindings
from tui.screens.error import ErrorScreen
from tui.screens.help import HelpScreen
from tui.screens.picker import PickerScreen
from tui.widgets.status_line import Status

THEME = Theme(
    name="roleplay",
    primary="#E0A458",
    secondary="#7FB7BE",
    accent="#D98BB3",
    warning="#E5C07B",
    error="#E06C75",
    success="#98C379",
    foreground="#E6E1D6",
    background="#15171C",
    surface="#1D2027",
    panel="#262A33",
    dark=True,
)
SHUTDOWN_GRACE_SECONDS = 3.0
CARDS_FIRST_GRACE_SECONDS = 1.5  # for a stopped reply to be stored before the process ends


@dataclass(frozen=True)
class LaunchOptions:
    character: str | None = None  # open a new chat with this card ("a,b,c": a group) at once
    session: str | None = None  # or resume this session
    order: str = "natural"  # a new group scene's speaker order (`--order`)
    model: str | None = None
    backend: str = "auto"
    base_url: str | None = None
    api_key: str | None = None
    threads: int | None = None
    user_name: str = "User"
    # The persona played (`--persona` or the active one): its description goes to the model.
    persona_description: str = ""
    persona_id: str | None = None  # the persona's name when one is played
    # The features, as `roleplay chat`'s flags; turned into FeatureOptions on the pipeline
    # thread, because roleplay.features imports the card model (not before the first frame).
    memory: bool = True
    chroma_url: str | None = None
    steer: str | None = None
    steering: bool = True
    lorebooks: tuple[str, ...] = ()  # imported lorebooks (`--lorebook`), names checked


def default_pipeline_factory(options: LaunchOptions) -> PipelineFactory:
    def build() -> ChatPipeline:
        # Imported here: this is what pulls in torch, on the pipeline thread.
        from roleplay.application import BackendOptions, RuntimeOptions, build_pipeline
        from roleplay.cli.options import feature_options

        features = feature_options(
            options.memory, options.chroma_url, options.steer, not options.steering
        )
        backend = BackendOptions(
            backend=options.backend,
            model=options.model,
            base_url=options.base_url,
            api_key=options.api_key,
            threads=options.threads,
        )
        return build_pipeline(
            RuntimeOptions(backend=backend, features=features, lorebooks=options.lorebooks)
        )

    return build


def default_store() -> SessionStore:
    from roleplay.application import open_store

    return open_store()


class ModelLoaded(Message):
    def __init__(self, pipeline: ChatPipeline) -> None:
        super().__init__()
        self.pipeline = pipeline


class ModelFailed(Message):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error


class RoleplayApp(App[str | None]):
    """``roleplay tui``. Returns the id of the last session opened (for a resume hint)."""

    # Absolute, so subclasses defined elsewhere (tests, the start-up benchmark) find it.
    CSS_PATH = package_path("tui", "app.tcss")
    TITLE = "roleplay"
    BINDINGS: ClassVar[list[BindingType]] = bindings(APP_KEYS)

    model_status: reactive[Status] = reactive(Status, always_update=True)
    # Who the user plays; new chats start with it. The persona screen changes it.
    identity: reactive[Identity] = reactive(lambda: Identity("User"))

    def __init__(
        self,
        options: LaunchOptions | None = None,
        *,
        pipeline_factory: PipelineFactory | None = None,
        store_factory: Callable[[], SessionStore] = default_store,
        steering: SteeringAdjuster | None = None,
        cursor_blink: bool = True,
        exports_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.options = options or LaunchOptions()
        self.set_reactive(
            RoleplayApp.identity,
            Identity(
                self.options.user_name,
                self.options.persona_description,
                self.options.persona_id,
            ),
        )
        self._pipeline_factory = pipeline_factory or default_pipeline_factory(self.options)
        self._store_factory = store_factory
        self._store: SessionStore | None = None
        self.steering = steering
        self.cursor_blink = cursor_blink
        self.exports_dir = exports_dir or paths.roleplay_home() / "exports"
        self.pipeline_thread = PipelineThread()
        self.pipeline: ChatPipeline | None = None
        self.last_session_id: str | None = None
        self.first_frame_at: float | None = None
        self._loading_since = 0.0
        self._loading_started = False
        self._reply_stopping = False
        self._loading_timer: Timer | None = None

    @property
    def user_name(self) -> str:
        return self.identity.name

    @property
    def store(self) -> SessionStore:
        """The UI thread's own connection, for listing sessions (the pipeline has another)."""
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    # Start-up -------------------------------------------------------------------------------

    def on_mount(self) -> None:
        self.register_theme(THEME)
        self.theme = THEME.name
        self.push_screen(PickerScreen())
        self._open_requested_chat()
        self.call_after_refresh(self._after_first_frame)

    def _open_requested_chat(self) -> None:
        if self.options.session:
            self.open_chat(ChatTarget(session_id=self.options.session))
        elif self.options.character:
            # Resolved by the chat screen after the first frame (reading cards needs pydantic).
            self.open_chat(
                ChatTarget(
                    character=self.options.character,
                    label=self.options.character,
                    order=self.options.order,
                )
            )

    def _after_first_frame(self) -> None:
        self.first_frame_at = time.perf_counter()
        # Importing torch holds the GIL for seconds: let the picker read its cards first (it
        # calls start_loading when they are in), so the characters show up at once.
        self.set_timer(CARDS_FIRST_GRACE_SECONDS, self.start_loading)

    def start_loading(self) -> None:
        """Load the model in the background (once; later calls do nothing)."""
        if self._loading_started:
            return
        self._loading_started = True
        self._loading_since = time.monotonic()
        self.model_status = Status(model_state="loading")
        self._loading_timer = self.set_interval(1.0, self._tick_loading)
        self._load_model()

    def _tick_loading(self) -> None:
        status = self.model_status
        if status.model_state == "loading":
            seconds = int(time.monotonic() - self._loading_since)
            self.model_status = Status(model_state="loading", loading_seconds=seconds)

    @work(thread=True, group="model", exit_on_error=False)
    def _load_model(self) -> None:
        worker = get_current_worker()
        try:
            pipeline = self.pipeline_thread.run(
                self._pipeline_factory, abandoned=lambda: worker.is_cancelled
            )
        except Abandoned:
            return
        except RoleplayError as error:
            self.post_message(ModelFailed(error.message))
        except Exception as error:  # third-party loading code: show it, do not crash
            self.post_message(ModelFailed(f"{type(error).__name__}: {error}"))
        else:
            self.post_message(ModelLoaded(pipeline))

    def on_model_loaded(self, message: ModelLoaded) -> None:
        self.pipeline = message.pipeline
        self._stop_ticking()
        self.model_status = Status(model=message.pipeline.engine.model_id, model_state="ready")

    def on_model_failed(self, message: ModelFailed) -> None:
        self._stop_ticking()
        self.model_status = Status(model_state="failed")
        self.show_error(
            "The model could not be loaded",
            message.error,
            hint="Check --model (a Hugging Face id in your cache, a local folder or a .gguf "
            "file). Your sessions are safe; quit with q.",
        )

    def _stop_ticking(self) -> None:
        if self._loading_timer is not None:
            self._loading_timer.stop()
            self._loading_timer = None

    # Navigation -----------------------------------------------------------------------------

    def open_chat(self, target: ChatTarget, *, replace: bool = False) -> None:
        """Open a chat screen; ``replace``: instead of the current screen (a chooser)."""
        # Imported on first use: the chat screen brings in Markdown rendering (markdown-it),
        # which the picker, and so the first frame, does not need.
        from tui.screens.chat import ChatScreen

        if replace:
            self.switch_screen(ChatScreen(target))
        else:
            self.push_screen(ChatScreen(target))

    def play_as(self, identity: Identity) -> None:
        """New chats start as ``identity`` from now on (an open chat switches on its own)."""
        self.identity = identity

    def show_personas(self, then: Callable[[Identity | None], None] | None = None) -> None:
        """The persona screen; ``then`` gets the identity chosen (None: nothing chosen)."""
        from tui.screens.personas import PersonaScreen

        self.push_screen(PersonaScreen(), then)

    def show_error(self, title: str, message: str, hint: str = "") -> None:
        self.push_screen(ErrorScreen(title, message, hint))

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        self.exit(self.last_session_id)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield SystemCommand("Help", "All keys and what the panels show", self.action_help)
        commands = getattr(screen, "palette_commands", None)
        if callable(commands):
            yield from commands()
        yield from super().get_system_commands(screen)

    def reply_stopped_on_exit(self) -> None:
        """A chat screen stopped a reply while closing: give it time to be stored."""
        self._reply_stopping = True

    async def on_unmount(self) -> None:
        # Chat screens have cancelled their replies by now; let the pipeline thread store
        # what was generated, but never hang the terminal on a model that is still loading.
        self.pipeline_thread.shutdown(SHUTDOWN_GRACE_SECONDS if self._reply_stopping else 0.1)
        if self._store is not None:
            self._store.close()
