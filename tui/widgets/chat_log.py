"""The scrolling conversation: message boxes, plus the reply being written."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.backend import ConversationView
from tui.widgets.message import MessageBox


class ChatLog(VerticalScroll, can_focus=False):
    """Renders ``ConversationView`` snapshots, reusing boxes for the unchanged prefix.

    Anchored to the bottom: new text keeps it scrolled down while the user is at the bottom;
    once they scroll up the anchor lets go, and it takes hold again when they return.
    """

    def on_mount(self) -> None:
        self.anchor()

    def boxes(self) -> list[MessageBox]:
        return [box for box in self.query_children(MessageBox) if box.message is not None]

    def live(self) -> MessageBox | None:
        return next((box for box in self.query_children(MessageBox) if box.message is None), None)

    async def show(self, view: ConversationView) -> None:
        """Make the log match ``view``: keep boxes whose message is unchanged, replace the rest.

        Each line is labelled with who said it (``ConversationView.speaker``): in a group
        scene the character who spoke, and a user line the name it was sent under."""
        boxes = self.boxes()
        keep = 0
        for box, message in zip(boxes, view.messages, strict=False):
            if box.message_id != message.id:
                break
            keep += 1
        stale = [*boxes[keep:], *self.query_children(".placeholder")]
        live = self.live()
        if live is not None:
            await live.close_stream()
            stale.append(live)
        if stale:
            await self.remove_children(stale)
        for box, message in zip(boxes[:keep], view.messages, strict=False):
            box.show(message, view.speaker(message))
        new = [
            MessageBox(message, view.speaker(message), tint=view.tint(message))
            for message in view.messages[keep:]
        ]
        if new:
            await self.mount_all(new)

    async def start_live(self, name: str, tint: int = 0) -> MessageBox:
        box = MessageBox(None, name, tint=tint)
        await self.mount(box)
        return box

    async def placeholder(self, text: str) -> None:
        """A line of text instead of messages (model loading, nothing opened yet)."""
        await self.remove_children()
        await self.mount(Static(text, classes="placeholder"))
