"""Does the character's note leak into the replies? Per note depth, over the drift script.

The character's note (``roleplay.prompting.character_note``) is an instruction in brackets
placed among the chat's messages. The nearer it is to where the model writes, the more a
small model may copy it into its reply instead of following it. This plays the drift
script's 20 messages (``roleplay/evaluation/data/drift_conversation.yaml``, its seeds)
through the chat path with the controller, as ``benchmarks/persona_drift.py`` does, once per
depth, and counts the replies that copy the note: that contain a bracketed "[Stay", or any
run of ``--ngram`` words (default 6) of the note's text.

    python -m benchmarks.note_echo [--card-set bundled] [--depths 4,1] [--ngram 6]
        [--threads 2]

Writes ``benchmarks/out/note_echo_<set>.json`` (every reply kept) and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import header, scratch_home, write_result

_WORD = re.compile(r"[a-z']+")


def word_ngrams(text: str, size: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.casefold())
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


def echoes(reply: str, note: str, size: int) -> bool:
    """Whether ``reply`` copies the note: its opening bracket or ``size`` of its words."""
    return "[stay" in reply.casefold() or bool(word_ngrams(reply, size) & word_ngrams(note, size))


def play(engine: Any, card_path: Path, depth: int) -> list[str]:
    """The 20 scripted turns with the controller and the note at ``depth``; the replies."""
    from roleplay.evaluation.interview import Interviewer
    from roleplay.evaluation.plan import Condition

    interviewer = Interviewer(engine, note_depth=depth)
    turns = len(interviewer.drift.messages)
    messages = interviewer.played_conversation(card_path, Condition.CONTROLLER, turns)
    return [m.content for m in messages if m.role == "assistant"]


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import Progress

    from roleplay.application import BackendOptions, load_engine
    from roleplay.cards import load_card
    from roleplay.evaluation.characters import card_set_paths
    from roleplay.prompting.character_note import character_note

    depths = [int(d) for d in arguments.depths.split(",")]
    paths = card_set_paths(arguments.card_set)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    engine = load_engine(BackendOptions(threads=arguments.threads))
    cards: dict[str, Any] = {}
    with Progress() as progress:
        task = progress.add_task("conversations", total=len(paths) * len(depths))
        for path in paths:
            card = load_card(path)
            note = character_note(card, "User").content
            by_depth: dict[str, Any] = {}
            for depth in depths:
                progress.update(task, description=f"{card.name}, note at depth {depth}")
                replies = play(engine, path, depth)
                flags = [echoes(reply, note, arguments.ngram) for reply in replies]
                by_depth[str(depth)] = {"replies": replies, "echoes": flags}
                progress.advance(task)
            cards[card.name] = {"note": note, "by_depth": by_depth}
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.note_echo" + "".join(f" {a}" for a in arguments.given),
        "model": engine.model_id,
        "threads": arguments.threads,
        "card_set": arguments.card_set,
        "depths": depths,
        "ngram": arguments.ngram,
        "cards": cards,
        "load_average": [load_before, os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
    }


def markdown(payload: dict[str, Any]) -> str:
    depths: Sequence[int] = payload["depths"]
    lines = [
        header(
            payload,
            f"Model {payload['model']} on llama.cpp ({payload['threads']} threads); "
            f"{payload['seconds']:.0f} s. Replies that copy the note (a bracketed '[Stay' or "
            f"{payload['ngram']} of its words in a row), over the drift script's 20 turns with "
            "the controller.",
        ),
        "",
        "| character | " + " | ".join(f"note at depth {d}" for d in depths) + " |",
        "|---|" + "---|" * len(depths),
    ]
    totals = {d: [0, 0] for d in depths}
    for name, card in payload["cards"].items():
        cells = []
        for depth in depths:
            flags = card["by_depth"][str(depth)]["echoes"]
            totals[depth][0] += sum(flags)
            totals[depth][1] += len(flags)
            cells.append(f"{sum(flags)} / {len(flags)}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append(
        "| **all** | " + " | ".join(f"**{totals[d][0]} / {totals[d][1]}**" for d in depths) + " |"
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--card-set", default="bundled")
    parser.add_argument("--depths", default="4,1")
    parser.add_argument("--ngram", type=int, default=6)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args(argv)
    arguments.given = list(sys.argv[1:] if argv is None else argv)
    with scratch_home():
        payload = run(arguments)
    path = write_result(f"note_echo_{arguments.card_set}", payload)
    record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    sys.stdout.write(markdown(record))
    print(f"result: {path}")


if __name__ == "__main__":
    main()
