"""Time to first token turn by turn in one chat, as a user of `roleplay chat` meets it.

The default model and engine, Mira's card with long-term memory (a fresh store, so it also
remembers each exchange) and steering, chat sampling; 60 new tokens per reply so the
conversation grows by ~130 tokens a turn. Each turn reports the prompt size, the time to the
first token (prompt processing included: the engine computes only what its cached prefix
does not cover) and the reply's decode speed.

    python -m benchmarks.chat_turns [--turns 10] [--threads N]

Writes benchmarks/out/chat_turns.json.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

MESSAGES_PATH = Path(__file__).resolve().parent / "data" / "chat_turns.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None)
    arguments = parser.parse_args()
    home = tempfile.mkdtemp(prefix="chat-turns-")
    os.environ["ROLEPLAY_HOME"] = home
    if arguments.threads:
        os.environ["ROLEPLAY_TORCH_THREADS"] = str(arguments.threads)

    from benchmarks.common import write_result
    from roleplay.cards.registry import resolve_card
    from roleplay.cli.runtime import RuntimeOptions, build_pipeline

    messages: list[str] = yaml.safe_load(MESSAGES_PATH.read_text(encoding="utf-8"))
    console = Console()
    pipeline = build_pipeline(RuntimeOptions(max_new_tokens=60), quiet=True)
    conversation = pipeline.start(resolve_card("mira"))
    load_before = os.getloadavg()[0]
    rows = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("chatting", total=arguments.turns)
        for turn in range(arguments.turns):
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
            progress.advance(task)
    table = Table("turn", "prompt tokens", "TTFT", "decode tok/s")
    for row in rows:
        table.add_row(
            str(row["turn"]),
            str(row["prompt_tokens"]),
            f"{row['ttft_s']:.2f} s",
            str(row["decode_tok_s"]),
        )
    console.print(table)
    load = (load_before, os.getloadavg()[0])
    console.print(f"load average before {load[0]:.2f}, after {load[1]:.2f}")
    path = write_result("chat_turns", {"turns": rows, "load_average": load})
    console.print(f"written to {path}")


if __name__ == "__main__":
    main()
