"""The status line: model state, speed of the last reply, context usage, session."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from textual.content import Content
from textual.widgets import Static

from tui.bars import shorten

DEFAULT_USER = "User"  # roleplay.pipeline.DEFAULT_USER_NAME, without importing the pipeline


@dataclass(frozen=True)
class Status:
    model: str = ""
    model_state: str = "loading"  # loading | ready | failed
    loading_seconds: int = 0
    tokens_per_second: float | None = None
    prompt_tokens: int | None = None
    context_window: int | None = None
    session_id: str | None = None
    user: str = ""  # who the user plays; shown unless it is the default "User"
    note: str = ""  # what is running now ("writing…", "stopping…")


def status_content(status: Status) -> Content:
    parts: list[Content] = []
    if status.note:  # first: what is running now must survive a narrow terminal
        parts.append(Content.styled(status.note, "bold $accent"))
    if status.model_state == "loading":
        waited = f" {status.loading_seconds} s" if status.loading_seconds else ""
        parts.append(Content.styled(f"◌ loading the model…{waited}", "$warning"))
    elif status.model_state == "failed":
        parts.append(Content.styled("✕ no model", "$error"))
    else:
        parts.append(Content.assemble(("● ", "$success"), shorten(status.model, 28)))
    if status.tokens_per_second is not None:
        parts.append(Content(f"{status.tokens_per_second:.1f} tok/s"))
    if status.prompt_tokens is not None and status.context_window:
        share = status.prompt_tokens / status.context_window
        style = "$error" if share > 0.9 else "$warning" if share > 0.75 else ""
        parts.append(
            Content.styled(
                f"ctx {status.prompt_tokens}/{status.context_window} ({share:.0%})", style
            )
        )
    if status.user and status.user != DEFAULT_USER:
        parts.append(Content.styled(f"as {shorten(status.user, 24)}", "$primary"))
    if status.session_id:
        parts.append(Content.styled(f"session {status.session_id}", "dim"))
    return Content.styled(" · ", "dim").join(parts)


class StatusLine(Static):
    """One line above the footer; screens call ``set`` with what changed."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.status = Status()

    def on_mount(self) -> None:
        # The model state belongs to the app; every status line follows it.
        self.watch(self.app, "model_status", self._follow_app, init=True)

    def _follow_app(self, status: Status) -> None:
        self.set(
            model=status.model,
            model_state=status.model_state,
            loading_seconds=status.loading_seconds,
        )

    def set(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)
        self.update(status_content(self.status))
