"""Raw ``model.generate`` vs the full chat pipeline on the same prompt, in one run.

Measures tokens/s for both (greedy, a fixed number of new tokens) and the pipeline's time to
first token, and reports the pipeline's overhead: the whole ``Conversation.send`` (prompt
building, session writes, streaming, detokenization) against ``generate`` alone.

    python -m benchmarks.pipeline_speed [--tokens 80] [--repeats 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from benchmarks.common import median, write_result
from roleplay.cards.registry import resolve_card
from roleplay.engine.base import GenerationSettings
from roleplay.paths import configure_library_caches
from roleplay.pipeline import ChatPipeline
from roleplay.sessions import SessionStore

MESSAGE = "Captain, the engines are failing."


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=None)
    arguments = parser.parse_args()
    configure_library_caches()
    import torch

    from roleplay.engine.transformers_engine import TransformersEngine

    console = Console()
    engine = TransformersEngine.load(arguments.model, status=console.print)
    settings = GenerationSettings(
        max_new_tokens=arguments.tokens,
        min_new_tokens=arguments.tokens,
        temperature=0.0,
        repetition_penalty=1.1,
    )
    store = SessionStore(Path(tempfile.mkdtemp()) / "bench.sqlite3")
    pipeline = ChatPipeline(engine, store, settings=settings)
    card = resolve_card("mira")
    prompt = pipeline.start(card).prepare(MESSAGE).prompt.text
    input_ids = engine.encode(prompt)

    def raw_generate() -> float:
        started = time.perf_counter()
        with torch.inference_mode():
            output = engine.model.generate(
                input_ids,
                max_new_tokens=arguments.tokens,
                min_new_tokens=arguments.tokens,
                do_sample=False,
                repetition_penalty=1.1,
            )
        elapsed = time.perf_counter() - started
        assert output.shape[1] - input_ids.shape[1] == arguments.tokens
        return elapsed

    def pipeline_turn() -> tuple[float, float, int]:
        conversation = pipeline.start(card)
        started = time.perf_counter()
        stream = conversation.send(MESSAGE)
        first = None
        for _ in stream:
            if first is None:
                first = time.perf_counter() - started
        elapsed = time.perf_counter() - started
        return elapsed, first or elapsed, stream.stats.new_tokens

    raw_generate()  # warm-up: first calls pay for lazy initialisation
    pipeline_turn()
    raw_times, pipe_times, ttfts = [], [], []
    for _ in track(range(arguments.repeats), description="Interleaved runs"):
        raw_times.append(raw_generate())
        elapsed, ttft, tokens = pipeline_turn()
        assert tokens == arguments.tokens, tokens
        pipe_times.append(elapsed)
        ttfts.append(ttft)
    raw_tps = arguments.tokens / median(raw_times)
    pipe_tps = arguments.tokens / median(pipe_times)
    overhead = median(pipe_times) / median(raw_times) - 1
    result = {
        "model": engine.model_id,
        "prompt_tokens": int(input_ids.shape[1]),
        "new_tokens": arguments.tokens,
        "repeats": arguments.repeats,
        "raw_generate_tokens_per_s": round(raw_tps, 2),
        "pipeline_tokens_per_s": round(pipe_tps, 2),
        "pipeline_ttft_s": round(median(ttfts), 3),
        "pipeline_overhead": round(overhead, 4),
    }
    table = Table("measure", "value", title="Pipeline vs raw generate")
    for key, value in result.items():
        table.add_row(key, str(value))
    console.print(table)
    console.print(f"written to {write_result('pipeline_speed', result)}")


if __name__ == "__main__":
    main()
