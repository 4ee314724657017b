"""One chat message: a header line (who, swipe position, badges) over its Markdown body."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from tui.backend import MessageView
from tui.keys import MESSAGE_KEYS, bindings
from tui.turn_info import toxicity_of

# The reply being written reaches the screen at most this often. Rendering shares the CPU
# (and Python's GIL) with generation: updating on every piece cost 40% of the tokens/s with
# the default model on 2 cores (31 vs 52 tok/s, measured); 10 updates a second still reads
# as streaming.
STREAM_INTERVAL_S = 0.1
# A group scene's characters' colours, by their place in the cast: the cast list's names and
# (as MessageBox.-tint-N in app.tcss, which must follow this order) their lines' borders. The
# user's colour ($primary) is not among them.
TINTS = ("$secondary", "$accent", "$success", "#C39BD3", "#61AFEF", "$warning")
TINT_COUNT = len(TINTS)


def is_event(message: MessageView) -> bool:
    """A group scene's event line (someone joined or left), not something said."""
    return message.role == "system" and bool(message.metadata.get("event"))


def header_content(message: MessageView, name: str) -> Content:
    """``Mira  ‹2/3›  interrupted  ⚠ toxic 0.82`` — what the message is, in one line."""
    parts: list[Content] = [Content.styled(name, "bold")]
    if message.swipe_count > 1:
        parts.append(Content.styled(f"‹{message.swipe_index}/{message.swipe_count}›", "$accent"))
    metadata = message.metadata
    if metadata.get("edited_from") is not None:
        parts.append(Content.styled("edited", "dim italic"))
    if metadata.get("interrupted"):
        # Cut short (stopped, or the reply failed midway): the CLI's "(interrupted)".
        parts.append(Content.styled("interrupted", "italic $text-warning"))
    toxicity = toxicity_of(metadata)
    if toxicity is not None and toxicity.flagged:
        parts.append(
            Content.styled(f" ⚠ toxic {toxicity.score:.2f} ", "bold $text-error on $error-muted")
        )
    return Content("  ").join(parts)


class MessageBox(Vertical, can_focus=True):
    """A stored message (``message`` set) or the reply being written (``message`` None)."""

    BINDINGS = bindings(MESSAGE_KEYS)

    class Selected(Message):
        """This message got the focus: the side panel follows the selection."""

        def __init__(self, box: MessageBox) -> None:
            super().__init__()
            self.box = box

    def __init__(self, message: MessageView | None, name: str, *, tint: int = 0) -> None:
        role = message.role if message is not None else "assistant"
        classes = f"message -{role}" + (" -live" if message is None else "")
        if tint:  # a group scene's character after the first: its own colour (app.tcss)
            classes += f" -tint-{tint % TINT_COUNT}"
        if message is not None and is_event(message):
            classes += " -event"
        super().__init__(classes=classes)
        self.message = message
        self.speaker = name
        self._stream: MarkdownStream | None = None
        self._pending: list[str] = []  # pieces received since the last screen update
        self._last_update = 0.0
        self._update_timer: Timer | None = None
        self._note = ""  # the live header's state once text flows ("" or a retry's note)

    @property
    def message_id(self) -> int | None:
        return self.message.id if self.message is not None else None

    def compose(self) -> ComposeResult:
        if self.message is not None and is_event(self.message):
            # A scene event ("Sable leaves the scene."): one quiet line, no header.
            yield Static(self.message.content, classes="message-event", markup=False)
        elif self.message is not None:
            yield Static(header_content(self.message, self.speaker), classes="message-header")
            yield Markdown(self.message.content, open_links=False, classes="message-body")
        else:
            yield Static(self._live_header("writing…"), classes="message-header")
            yield Markdown("", open_links=False, classes="message-body")

    def _live_header(self, state: str) -> Content:
        return Content.styled(self.speaker, "bold") + Content.styled(f"  {state}", "dim italic")

    def show(self, message: MessageView, name: str) -> None:
        """Update in place (a swipe count grew, a badge appeared); re-render text only if new."""
        changed_text = self.message is None or self.message.content != message.content
        self.message, self.speaker = message, name
        if is_event(message):
            self.query_one(".message-event", Static).update(message.content)
            return
        self.query_one(".message-header", Static).update(header_content(message, name))
        if changed_text:
            self.query_one(".message-body", Markdown).update(message.content)

    # Streaming -----------------------------------------------------------------------------

    async def write(self, piece: str) -> None:
        """Append a piece of the reply; the screen follows at most every STREAM_INTERVAL_S."""
        self._pending.append(piece)
        if self._update_timer is not None:
            return  # an update is already scheduled and will include this piece
        wait = self._last_update + STREAM_INTERVAL_S - time.monotonic()
        if wait <= 0:
            await self._update()  # the first piece shows at once
        else:
            self._update_timer = self.set_timer(wait, self._update)

    async def _update(self) -> None:
        self._update_timer = None
        self._last_update = time.monotonic()
        text = "".join(self._pending)
        self._pending.clear()
        if not text:
            return
        if self._stream is None:
            self.query_one(".message-header", Static).update(self._live_header(self._note))
            self._stream = Markdown.get_stream(self.query_one(".message-body", Markdown))
        await self._stream.write(text)

    async def restart(self, note: str) -> None:
        """The attempt shown was rejected (a group scene's echo guard): start over, saying why."""
        if self._update_timer is not None:
            self._update_timer.stop()
            self._update_timer = None
        self._pending.clear()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        await self.query_one(".message-body", Markdown).update("")
        self._note = note
        self.query_one(".message-header", Static).update(self._live_header(note))

    def stopping(self) -> None:
        self.query_one(".message-header", Static).update(self._live_header("stopping…"))

    def failed(self) -> None:
        self.query_one(".message-header", Static).update(self._live_header("failed"))

    async def close_stream(self) -> None:
        if self._update_timer is not None:
            self._update_timer.stop()
        await self._update()  # what is still pending
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None

    def on_focus(self) -> None:
        self.post_message(self.Selected(self))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Only offer what fits the message: swipes and regeneration on replies, edits on
        # the user's own messages (the footer hides the rest).
        if self.message is None:
            return action in ("previous_message", "next_message")
        if action in ("swipe", "regenerate"):
            return self.message.role == "assistant"
        if action == "edit":
            return self.message.role == "user"
        return True

    # The message-level actions belong to the chat screen, which knows what is running.

    def action_previous_message(self) -> None:
        self._step(-1)

    def action_next_message(self) -> None:
        self._step(1)

    def _step(self, step: int) -> None:
        boxes = list(self.screen.query(MessageBox))
        index = boxes.index(self) + step if self in boxes else -1
        if 0 <= index < len(boxes):
            boxes[index].focus()
        elif index >= len(boxes):
            # Past the last message: back to typing.
            self.screen.query_one("#composer").focus()

    async def action_swipe(self, step: int) -> None:
        await self.screen.run_action(f"swipe({step})")

    async def action_regenerate(self) -> None:
        await self.screen.run_action("regenerate")

    async def action_edit(self) -> None:
        await self.screen.run_action("edit")
