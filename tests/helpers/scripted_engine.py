"""A scripted engine for fast pipeline tests: words are tokens, replies come from a script."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from roleplay.engine.base import (
    Capabilities,
    ChatMessage,
    GenerationSettings,
    GenerationStats,
    TokenEvent,
)


class ScriptedEngine:
    """Implements the Engine protocol; each ``stream`` call plays the next scripted reply."""

    model_id = "scripted-test-engine"
    capabilities = Capabilities(backend="scripted", steering="prompt")

    def __init__(
        self,
        replies: Sequence[str] = ("Hello there, traveller.",),
        *,
        context_window: int = 4096,
        delay: float = 0.0,
    ) -> None:
        self.replies = list(replies)
        self.context_window = context_window
        self.delay = delay
        self.calls = 0
        self.prompts: list[str] = []
        self.messages: list[list[ChatMessage]] = []

    def render_chat(self, messages: Sequence[ChatMessage]) -> str:
        rendered = "".join(f"<{m.role}>\n{m.content}\n" for m in messages)
        return rendered + "<assistant>\n"

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def stream(
        self,
        prompt: str,
        settings: GenerationSettings,
        *,
        messages: Sequence[ChatMessage] | None = None,
        logits_processors: Sequence[Any] = (),
        grammar: str | None = None,
        cancel: threading.Event | None = None,
        stats: GenerationStats | None = None,
    ) -> Iterator[TokenEvent]:
        stats = stats if stats is not None else GenerationStats()
        self.prompts.append(prompt)
        self.messages.append(list(messages or []))
        reply = self.replies[min(self.calls, len(self.replies) - 1)]
        self.calls += 1
        started = time.perf_counter()
        stats.prompt_tokens = self.count_tokens(prompt)
        stats.stop_reason = "eos"
        try:
            for index, word in enumerate(reply.split(" ")[: settings.max_new_tokens]):
                if cancel is not None and cancel.is_set():
                    stats.stop_reason = "cancelled"
                    return
                if self.delay:
                    time.sleep(self.delay)
                if index == 0:
                    stats.ttft = time.perf_counter() - started
                stats.new_tokens += 1
                yield TokenEvent(text=word if index == 0 else " " + word)
        finally:
            stats.seconds = time.perf_counter() - started
