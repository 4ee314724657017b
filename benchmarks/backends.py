"""The backends side by side, as `roleplay chat` users meet them (issue: backends).

For each GGUF (the embedded default, and a 0.8B Qwen2-architecture stand-in at Q4_K_M built
by ``benchmarks.standin_gguf``):

1. decode speed and time to first token through the chat pipeline (Mira's card, steering on
   as control vectors, memory off so both sides get the same prompt) against bare
   llama-cpp-python on the same file, threads and prompt, interleaved repeats, each run from
   an empty KV cache (seeded replies are computed from scratch on both sides);
2. peak RSS of one `roleplay chat --once` process in a fresh data dir (memory and steering
   on, so the steering vectors are built from the GGUF first) against the file's size
   (GNU time's %M), and the bytes it wrote to that data dir;
3. time to first token at each turn of one 10-turn conversation (memory and steering on),
   on llama.cpp and, for the default model, on the transformers backend (float32 since the
   int8 fast path was removed; run 1 of 2026-12-03 measured that path);
4. a warm `roleplay chat` start: seconds until the user's prompt is printed.

    python -m benchmarks.backends [--repeats 5] [--threads 2] [--turns 10] [--skip-standin]

Writes benchmarks/out/backends.json; the tables go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.common import write_result

MESSAGES_PATH = Path(__file__).resolve().parent / "data" / "chat_turns.yaml"
REPO = Path(__file__).resolve().parents[1]
MESSAGE = "Captain, the engines are failing and the crew is scared. What do we do?"
NEW_TOKENS = 64
SHARED_CACHE = Path(tempfile.gettempdir()) / "roleplay-bench-cache"
console = Console()


def interval(values: list[float]) -> str:
    """Median and the min-max range (n is small: no parametric interval is honest here)."""
    return f"{statistics.median(values):.2f} [{min(values):.2f}, {max(values):.2f}]"


def bootstrap_ratio(a: list[float], b: list[float], draws: int = 2000) -> tuple[float, float]:
    """95% bootstrap interval of median(a) / median(b), pairing runs by repeat index."""
    import random

    rng = random.Random(0)
    pairs = list(zip(a, b, strict=True))
    ratios = []
    for _ in range(draws):
        sample = [pairs[rng.randrange(len(pairs))] for _ in pairs]
        ratios.append(
            statistics.median(x for x, _ in sample) / statistics.median(y for _, y in sample)
        )
    ratios.sort()
    return ratios[int(0.025 * draws)], ratios[int(0.975 * draws) - 1]


def _settings(seed: int) -> Any:
    """The chat's sampling defaults, for both the engine and the bare loop."""
    from dataclasses import replace

    from roleplay.engine.base import DEFAULT_GENERATION

    return replace(DEFAULT_GENERATION, max_new_tokens=NEW_TOKENS, seed=seed)


def bare_run(llm: Any, tokens: list[int], seed: int) -> tuple[float, float, int]:
    """(TTFT s, decode tok/s, new tokens) of bare llama-cpp-python's generate loop."""
    sampling = _settings(seed)
    llm.reset()
    llm.set_seed(seed)
    started = time.perf_counter()
    first = 0.0
    count = 0
    eos = llm.token_eos()
    for token in llm.generate(
        tokens,
        top_k=sampling.top_k,
        top_p=sampling.top_p,
        min_p=0.0,
        temp=sampling.temperature,
        repeat_penalty=sampling.repetition_penalty,
    ):
        if count == 0:
            first = time.perf_counter() - started
        if token == eos:
            break
        count += 1
        llm.detokenize([token])  # as any client must, to show the text
        if count >= NEW_TOKENS:
            break
    total = time.perf_counter() - started
    return first, (count - 1) / (total - first) if count > 1 else 0.0, count


def pipeline_run(conversation: Any, prompt: Any, seed: int) -> tuple[float, float, int]:
    """The same through the pipeline's reply path (controller steering, processors)."""
    from roleplay.engine.base import GenerationStats

    controller = conversation.controller
    stats = GenerationStats()
    engine = conversation.pipeline.engine
    settings = _settings(seed)
    with controller.steering():
        for _ in engine.stream(
            prompt.text,
            settings,
            messages=prompt.messages,
            logits_processors=controller.logits_processors(),
            grammar=controller.grammar_text(),
            stats=stats,
        ):
            pass
    decode = stats.seconds - stats.ttft
    rate = (stats.new_tokens - 1) / decode if stats.new_tokens > 1 and decode > 0 else 0.0
    return stats.ttft, rate, stats.new_tokens


def speed(path: Path | None, threads: int, repeats: int) -> dict[str, Any]:
    import llama_cpp

    from roleplay.application import BackendOptions, RuntimeOptions, build_pipeline
    from roleplay.cards.registry import resolve_card
    from roleplay.engine.default_model import default_gguf_path
    from roleplay.features import FeatureOptions

    model = None if path is None else str(path)
    options = RuntimeOptions(
        backend=BackendOptions(backend="llama.cpp", model=model, threads=threads),
        max_new_tokens=NEW_TOKENS,
        features=FeatureOptions(memory=False, toxicity=False),
    )
    pipeline = build_pipeline(options)
    conversation = pipeline.start(resolve_card("mira"))
    prompt = conversation.prepare(MESSAGE).prompt
    engine = pipeline.engine
    tokens = engine.tokenize(prompt.text)
    bare = llama_cpp.Llama(
        model_path=str(path or default_gguf_path()),
        n_ctx=engine.context_window,
        n_batch=engine.batch_size,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    runs: dict[str, list[tuple[float, float, int]]] = {"bare": [], "pipeline": []}
    pipeline_run(conversation, prompt, 0)  # warm-up: vectors, caches, page-ins
    bare_run(bare, tokens, 0)
    for repeat in range(repeats):
        order = ["bare", "pipeline"] if repeat % 2 == 0 else ["pipeline", "bare"]
        for side in order:
            seed = 100 + repeat
            run = (
                bare_run(bare, tokens, seed)
                if side == "bare"
                else pipeline_run(conversation, prompt, seed)
            )
            runs[side].append(run)
    decode = {side: [r[1] for r in values] for side, values in runs.items()}
    ttft = {side: [r[0] for r in values] for side, values in runs.items()}
    low, high = bootstrap_ratio(decode["pipeline"], decode["bare"])
    result = {
        "model": engine.model_id,
        "file_bytes": engine.info.size,
        "prompt_tokens": len(tokens),
        "steering": conversation.controller.describe()["steering"]["method"],
        "decode_tok_s": {side: values for side, values in decode.items()},
        "ttft_s": {side: values for side, values in ttft.items()},
        "new_tokens": {side: [r[2] for r in values] for side, values in runs.items()},
        "decode_ratio_median": statistics.median(decode["pipeline"])
        / statistics.median(decode["bare"]),
        "decode_ratio_95": [low, high],
        "llama_cpp_version": llama_cpp.__version__,
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
    }
    del bare
    return result


def chat_process(model: str | None, threads: int) -> dict[str, Any]:
    """Peak RSS and bytes written of one `roleplay chat --once` in a fresh data dir."""
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    command = [
        sys.executable,
        "-m",
        "roleplay",
        "chat",
        "--once",
        MESSAGE,
        "--json",
        "--threads",
        str(threads),
        "--max-new-tokens",
        str(NEW_TOKENS),
    ]
    if model:
        command += ["--model", model]
    # GNU time reports the child's own peak RSS. (The parent's RUSAGE_CHILDREN would also
    # count the pages a forked child shares with this process before it execs: the
    # benchmark process holds a model too, which inflated a first run to 2.7 GB.)
    report = home / "time.txt"
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), *command],
        env={**os.environ, "ROLEPLAY_HOME": str(home)},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    peak_kib = int(report.read_text().split()[-1])
    report.unlink()
    written = sum(f.stat().st_size for f in home.rglob("*") if f.is_file())
    return {
        "exit_code": done.returncode,
        "seconds": seconds,
        "peak_rss_bytes": peak_kib * 1024,
        "data_dir_bytes": written,
        "stderr_tail": done.stderr[-300:],
    }


def turns(
    backend: str, model: str | None, threads: int, count: int, layout: str = "system"
) -> list[dict[str, Any]]:
    from roleplay.application import BackendOptions, RuntimeOptions, build_pipeline
    from roleplay.cards.registry import resolve_card

    # A fresh data dir (conversation store, memory) sharing one cache folder, so steering
    # vectors are built once per model (a one-time cost that chat_process measures).
    shared_cache = SHARED_CACHE
    shared_cache.mkdir(parents=True, exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="bench-turns-"))
    (home / "cache").symlink_to(shared_cache, target_is_directory=True)
    os.environ["ROLEPLAY_HOME"] = str(home)
    messages: list[str] = yaml.safe_load(MESSAGES_PATH.read_text(encoding="utf-8"))
    options = RuntimeOptions(
        backend=BackendOptions(backend=backend, model=model, threads=threads),
        max_new_tokens=60,
        prompt_layout=layout,  # type: ignore[arg-type]
    )
    pipeline = build_pipeline(options)
    conversation = pipeline.start(resolve_card("mira"))
    rows = []
    for turn in range(count):
        stream = conversation.send(messages[turn % len(messages)])
        stream.text()
        stats = stream.stats
        decode = stats.seconds - stats.ttft
        rows.append(
            {
                "turn": turn + 1,
                "prompt_tokens": stats.prompt_tokens,
                "ttft_s": round(stats.ttft, 3),
                "decode_tok_s": round((stats.new_tokens - 1) / decode, 1)
                if stats.new_tokens > 1 and decode > 0
                else None,
            }
        )
    return rows


def warm_start(threads: int) -> list[float]:
    """Seconds from process start until `roleplay chat` prints the user's prompt."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        process = subprocess.Popen(
            [sys.executable, "-m", "roleplay", "chat", "--threads", str(threads)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert process.stdout is not None and process.stdin is not None
        seen = b""
        while b"User:" not in seen:
            chunk = process.stdout.read1(4096)  # type: ignore[attr-defined]
            if not chunk:
                break
            seen += chunk
        times.append(time.perf_counter() - started)
        process.stdin.close()
        process.wait(timeout=60)
    return times[1:]  # the first start warms the page cache and the vector cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--skip-standin", action="store_true")
    parser.add_argument(
        "--only-turns", action="store_true", help="only the TTFT-per-turn part, both layouts"
    )
    arguments = parser.parse_args()
    os.environ.setdefault("ROLEPLAY_HOME", tempfile.mkdtemp(prefix="bench-backends-"))
    models: list[tuple[str, Path | None]] = [("default SmolLM2-135M Q4_1", None)]
    if not arguments.skip_standin:
        from benchmarks.standin_gguf import build_standin

        models.append(("stand-in Qwen2 0.8B Q4_K_M", build_standin(verbose=False)))
    load_before = os.getloadavg()
    if arguments.only_turns:
        only: dict[str, Any] = {"turns": {}}
        for label, path in models:
            for layout in ("system", "turn"):
                only["turns"][f"{label}, llama.cpp, {layout} layout"] = turns(
                    "llama.cpp",
                    None if path is None else str(path),
                    arguments.threads,
                    arguments.turns,
                    layout,
                )
        only["load_average"] = {"before": load_before, "after": os.getloadavg()}
        _print_turns(only)
        console.print(f"written to {write_result('backends_turns', only)}")
        return
    results: dict[str, Any] = {"speed": {}, "process": {}, "turns": {}}
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarks", total=len(models) * 3 + 2)
        for label, path in models:
            results["speed"][label] = speed(path, arguments.threads, arguments.repeats)
            progress.advance(task)
            results["process"][label] = chat_process(
                None if path is None else str(path), arguments.threads
            )
            progress.advance(task)
            results["turns"][f"{label}, llama.cpp"] = turns(
                "llama.cpp", None if path is None else str(path), arguments.threads, arguments.turns
            )
            progress.advance(task)
        results["turns"]["default SmolLM2-135M, transformers (float32)"] = turns(
            "transformers", None, arguments.threads, arguments.turns
        )
        progress.advance(task)
        results["warm_start_s"] = warm_start(arguments.threads)
        progress.advance(task)
    results["load_average"] = {"before": load_before, "after": os.getloadavg()}
    results["repeats"] = arguments.repeats
    results["threads"] = arguments.threads
    _print(results)
    console.print(f"written to {write_result('backends', results)}")


def _print(results: dict[str, Any]) -> None:
    table = Table("model", "side", "decode tok/s", "TTFT s", title="decode and TTFT")
    for label, result in results["speed"].items():
        for side in ("bare", "pipeline"):
            table.add_row(
                label,
                side,
                interval(result["decode_tok_s"][side]),
                interval(result["ttft_s"][side]),
            )
        low, high = result["decode_ratio_95"]
        table.add_row(
            label, "ratio", f"{result['decode_ratio_median']:.3f} [{low:.3f}, {high:.3f}]", ""
        )
    console.print(table)
    table = Table("model", "file MB", "peak RSS MB", "data dir MB", title="one chat process")
    for label, result in results["process"].items():
        size = results["speed"][label]["file_bytes"] / 1e6
        rss = result["peak_rss_bytes"]
        table.add_row(
            label,
            f"{size:.0f}",
            f"{rss / 1e6:.0f}" if rss else "n/a",
            f"{result['data_dir_bytes'] / 1e6:.1f}",
        )
    console.print(table)
    _print_turns(results)
    console.print(f"warm start to the prompt: {results['warm_start_s']}")


def _print_turns(results: dict[str, Any]) -> None:
    table = Table("conversation", "turn 1", "turn 2", "turn 5", "turn 10", "10 / 2", title="TTFT")
    for label, rows in results["turns"].items():
        by_turn = {row["turn"]: row["ttft_s"] for row in rows}
        cells = [f"{by_turn.get(t, float('nan')):.2f}" for t in (1, 2, 5, 10)]
        ratio = by_turn.get(10, float("nan")) / by_turn.get(2, float("nan"))
        table.add_row(label, *cells, f"{ratio:.2f}")
    console.print(table)


if __name__ == "__main__":
    main()
