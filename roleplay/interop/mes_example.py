"""SillyTavern's ``mes_example`` text <-> our ``example_dialogues``.

The text is a series of blocks, each starting with ``<START>``; within a block each line of
dialogue starts with ``{{user}}:`` or ``{{char}}:`` (``<USER>:``/``<BOT>:`` too, any case),
and lines without a prefix continue the previous line. Text before the first prefix of a
block has no speaker and no place in our model; callers detect that (``is_lossless``) and
keep the original text so an export gives it back unchanged.
"""

from __future__ import annotations

import re
from typing import Any

Dialogue = list[dict[str, str]]

_START = re.compile(r"<START>", re.IGNORECASE)
_SPEAKER = re.compile(r"^\s*(\{\{user\}\}|<user>|\{\{char\}\}|<bot>)\s*:[ \t]?(.*)$", re.IGNORECASE)
_USER_MARKS = frozenset({"{{user}}", "<user>"})


def parse_mes_example(text: str) -> list[Dialogue]:
    """``[[{"role": "user", "content": ...}, ...], ...]``; lines without a speaker are dropped."""
    dialogues: list[Dialogue] = []
    for block in _START.split(text.replace("\r\n", "\n")):
        lines: Dialogue = []
        for raw in block.split("\n"):
            match = _SPEAKER.match(raw)
            if match is not None:
                role = "user" if match.group(1).lower() in _USER_MARKS else "character"
                lines.append({"role": role, "content": match.group(2)})
            elif lines:
                lines[-1]["content"] += "\n" + raw
        kept = [
            {"role": line["role"], "content": line["content"].strip()}
            for line in lines
            if line["content"].strip()
        ]
        if kept:
            dialogues.append(kept)
    return dialogues


def render_mes_example(dialogues: list[Any]) -> str:
    """The ``<START>`` text SillyTavern expects, from dialogues of ``{role, content}`` lines."""
    blocks = []
    for dialogue in dialogues:
        lines = [
            ("{{user}}" if line["role"] == "user" else "{{char}}") + ": " + line["content"]
            for line in dialogue
        ]
        blocks.append("<START>\n" + "\n".join(lines))
    return "\n".join(blocks)


def is_lossless(text: str) -> bool:
    """Whether ``render(parse(text))`` says the same as ``text`` (up to line ends and spacing)."""
    return _normalised(render_mes_example(parse_mes_example(text))) == _normalised(text)


def round_trips(dialogues: list[Any]) -> bool:
    """Whether these dialogues survive being written as ``mes_example`` and read back."""
    return parse_mes_example(render_mes_example(dialogues)) == [
        [{"role": line["role"], "content": line["content"]} for line in dialogue]
        for dialogue in dialogues
    ]


def _normalised(text: str) -> str:
    lines = [line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n")]
    return "\n".join(line for line in lines if line)
