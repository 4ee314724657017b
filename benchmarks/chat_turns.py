"""Time to first token turn by turn in one chat, as a user of `roleplay chat` meets it.

The default model and engine, Mira's card with long-term memory (a fresh store, so it also
remembers each exchange) and steering, chat sampling; 60 new tokens per reply so the
conversation grows by ~130 tokens a turn. Each turn reports the prompt size, the time to the
first token (prompt processing included: the engine computes only what its cached prefix
does not cover) and the reply's decode speed.

    python -m benchmarks.chat_turns [--turns 10] [--threads N] [--conversations 3]

Each conversation starts from a fresh data dir, so the repeats give every turn's TTFT a range.
Writes benchmarks/out/chat_turns.json; ``markdown()`` renders the turn table from it. (The
table under "Generation speed, transformers int8 path" in BENCHMARKS.md is historical: that
path is removed, so ``run_all`` does not regenerate it; ``benchmarks.backends`` measures TTFT
turn by turn on today's backends.)
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import Progress

MESSAGES_PATH = Path(__file__).resolve().parent / "data" / "chat_turns.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--conversations", type=int, default=3)
    arguments = parser.parse_args()

    from benchmarks.common import load_average, write_result

    console = Console()
    load_before = load_average()
    conversations = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("chatting", total=arguments.turns * arguments.conversations)
        for _ in range(arguments.conversations):
            advance = lambda: progress.advance(task)  # noqa: E731
            conversations.append(chat(arguments.turns, arguments.threads, advance))
    payload = {
        "turns": conversations[0],
        "conversations": conversations,
        "load_average": [load_before, load_average()],
    }
    path = write_result("chat_turns", payload)
    console.print(markdown(payload | {"machine": json.loads(path.read_text())["machine"]}))
    console.print(f"written to {path}")


def chat(turns: int, threads: int | None, advance: Callable[[], None]) -> list[dict[str, Any]]:
    """One conversation with Mira from a fresh data dir: each turn's prompt size and timings."""
    os.environ["ROLEPLAY_HOME"] = tempfile.mkdtemp(prefix="chat-turns-")
    from roleplay.application import BackendOptions, RuntimeOptions, build_pipeline
    from roleplay.cards.registry import resolve_card

    messages: list[str] = yaml.safe_load(MESSAGES_PATH.read_text(encoding="utf-8"))
    options = RuntimeOptions(backend=BackendOptions(threads=threads), max_new_tokens=60)
    pipeline = build_pipeline(options)
    conversation = pipeline.start(resolve_card("mira"))
    rows = []
    for turn in range(turns):
        stream = conversation.send(messages[turn % len(messages)])
        stream.text()
        stats = stream.stats
        decode = stats.seconds - stats.ttft
        rows.append(
            {
                "turn": turn + 1,
                "prompt_tokens": stats.prompt_tokens,
                "ttft_s": round(stats.ttft, 3),
                "new_tokens": stats.new_tokens,
                "decode_tok_s": round(stats.new_tokens / decode, 1) if decode > 0 else None,
            }
        )
        advance()
    return rows


def markdown(payload: dict[str, Any]) -> str:
    """The turn-by-turn table: TTFT and prompt tokens per turn, median [min, max] over the
    conversations (older results held one conversation, ``turns``)."""
    from benchmarks.common import header, spread

    conversations = payload.get("conversations") or [payload["turns"]]
    count = max(row["turn"] for c in conversations for row in c)
    columns = range(1, count + 1)

    def cells(key: str, digits: int) -> str:
        values = [[r[key] for c in conversations for r in c if r["turn"] == t] for t in columns]
        return " | ".join(spread([v for v in vs if v is not None], digits) for vs in values)

    return (
        "\n".join(
            [
                header(
                    payload,
                    f"Mira with memory and steering, 60-token replies; median [min, max] over "
                    f"n = {len(conversations)} conversations, each from a fresh data dir.",
                ),
                "",
                "| turn | " + " | ".join(str(t) for t in columns) + " |",
                "|---|" + "---|" * count,
                f"| TTFT s | {cells('ttft_s', 2)} |",
                f"| prompt tokens | {cells('prompt_tokens', 0)} |",
                f"| decode tok/s | {cells('decode_tok_s', 1)} |",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
