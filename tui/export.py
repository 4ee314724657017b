"""A conversation as a Markdown file (the branch in view, as the reader sees it)."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from roleplay.paths import safe_slug
from tui.backend import ConversationView


def conversation_markdown(view: ConversationView, *, exported_at: datetime | None = None) -> str:
    stamp = (exported_at or datetime.now()).strftime("%Y-%m-%d %H:%M")
    lines = [
        f"# {view.character} and {view.user_name}",
        "",
        f"*Session `{view.session_id}` · model `{view.model_id}` · exported {stamp}*",
        "",
    ]
    for message in view.messages:
        if message.role == "system" and message.metadata.get("event"):
            lines += [f"*{message.content.strip()}*", ""]  # a scene event: someone came or left
            continue
        note = ""
        if message.swipe_count > 1:
            note = f" *(alternative {message.swipe_index} of {message.swipe_count})*"
        if message.metadata.get("interrupted"):
            note += " *(interrupted)*"
        lines += [f"**{view.speaker(message)}:**{note}", "", message.content.strip(), ""]
    return "\n".join(lines)


def export_conversation(view: ConversationView, folder: Path) -> Path:
    """Write ``view`` under ``folder``; the name comes from ``safe_slug`` and the session id,
    so a card name can never steer the path (slashes, dots, control characters)."""
    folder.mkdir(parents=True, exist_ok=True)
    session = re.sub(r"[^A-Za-z0-9_-]", "", view.session_id)[:32]
    path = folder / f"{safe_slug(view.character)}-{session}.md"
    path.write_text(conversation_markdown(view), encoding="utf-8")
    return path
