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

Steps 2 and 3 are repeated (``--process-repeats``, ``--conversations``, each from a fresh
data dir) so every published figure has a range, not one draw; step 3 runs both prompt
layouts on llama.cpp.

    python -m benchmarks.backends [--repeats 5] [--threads 2] [--turns 10] [--skip-standin]
        [--process-repeats 3] [--conversations 3]

Writes benchmarks/out/backends.json; ``markdown()`` renders BENCHMARKS.md's tables from it
(``python -m benchmarks.run_all --only backends``).
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks.common import bootstrap_ratio, header, load_average, spread, write_result

MESSAGES_PATH = Path(__file__).resolve().parent / "data" / "chat_turns.yaml"
REPO = Path(__file__).resolve().parents[1]
MESSAGE = "Captain, the engines are failing and the crew is scared. What do we do?"
NEW_TOKENS = 64
SHARED_CACHE = Path(tempfile.gettempdir()) / "roleplay-bench-cache"
console = Console()


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
    from roleplay.engine.llama_cpp_repack import configured_model_loading
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
    controller = conversation.controller
    engine: Any = pipeline.engine  # the llama.cpp engine: its tokenizer and batch size
    tokens = engine.tokenize(prompt.text)
    with configured_model_loading():  # the engine's weight layout: a fair comparison
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
        "steering": controller.describe()["steering"]["method"] if controller else None,
        "decode_tok_s": {side: values for side, values in decode.items()},
        "ttft_s": {side: values for side, values in ttft.items()},
        "new_tokens": {side: [r[2] for r in values] for side, values in runs.items()},
        "decode_ratio_median": statistics.median(decode["pipeline"])
        / statistics.median(decode["bare"]),
        "decode_ratio_95": [low, high],
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


LAYOUTS = ("system", "turn")  # the default prompt layout first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--process-repeats", type=int, default=3, help="chat processes per model")
    parser.add_argument(
        "--conversations", type=int, default=3, help="conversations per turn-by-turn row"
    )
    parser.add_argument("--skip-standin", action="store_true")
    parser.add_argument("--skip-transformers", action="store_true", help="no transformers row")
    parser.add_argument(
        "--only-turns", action="store_true", help="only the TTFT-per-turn part, both layouts"
    )
    arguments = parser.parse_args()
    os.environ.setdefault("ROLEPLAY_HOME", tempfile.mkdtemp(prefix="bench-backends-"))
    models: list[tuple[str, Path | None]] = [("default SmolLM2-135M Q4_1", None)]
    if not arguments.skip_standin:
        from benchmarks.standin_gguf import build_standin

        models.append(("stand-in Qwen2 0.8B Q4_K_M", build_standin(verbose=False)))
    load_before = load_average()
    results: dict[str, Any] = {"speed": {}, "process": {}, "turns": {}}
    conversations = arguments.conversations
    steps = len(models) * len(LAYOUTS) * conversations
    if not arguments.only_turns:
        steps += len(models) * (1 + arguments.process_repeats) + 1
        steps += 0 if arguments.skip_transformers else conversations
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("benchmarks", total=steps)
        for label, path in models:
            model = None if path is None else str(path)
            if not arguments.only_turns:
                results["speed"][label] = speed(path, arguments.threads, arguments.repeats)
                progress.advance(task)
                results["process"][label] = []
                for _ in range(arguments.process_repeats):
                    results["process"][label].append(chat_process(model, arguments.threads))
                    progress.advance(task)
            for layout in LAYOUTS:
                runs: list[Any] = []
                results["turns"][f"{label}, llama.cpp, {layout} layout"] = runs
                for _ in range(conversations):
                    runs.append(
                        turns("llama.cpp", model, arguments.threads, arguments.turns, layout)
                    )
                    progress.advance(task)
        if not arguments.only_turns:
            if not arguments.skip_transformers:
                runs = []
                results["turns"]["default SmolLM2-135M, transformers (float32)"] = runs
                for _ in range(conversations):
                    runs.append(turns("transformers", None, arguments.threads, arguments.turns))
                    progress.advance(task)
            results["warm_start_s"] = warm_start(arguments.threads)
            progress.advance(task)
    results["load_average"] = [load_before, load_average()]
    results["repeats"] = arguments.repeats
    results["threads"] = arguments.threads
    results["conversations"] = conversations
    name = "backends_turns" if arguments.only_turns else "backends"
    path = write_result(name, results)
    console.print(markdown(json.loads(path.read_text())))
    console.print(f"written to {path}")


# Rendering (BENCHMARKS.md) -------------------------------------------------------------------


def _process_runs(value: Any) -> list[dict[str, Any]]:
    """Chat-process runs of one model (older results held one run, not a list)."""
    return value if isinstance(value, list) else [value]


def _conversations(value: Any) -> list[list[dict[str, Any]]]:
    """Conversations of one turn-by-turn row (older results held one, a list of turns)."""
    return [value] if value and isinstance(value[0], dict) else list(value)


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's Backends tables from this script's JSON result: decode/TTFT against
    bare llama.cpp, one chat process's memory, TTFT turn by turn, a warm start. The process and
    turn tables are parts of their own (``bench:backends/process``, ``bench:backends/turns``):
    prose sits between the tables in BENCHMARKS.md."""
    blocks = [_speed_block(payload)] if payload.get("speed") else []
    parts = []
    if payload.get("process"):
        parts.append(("process", _process_block(payload)))
    if payload.get("turns"):
        parts.append(("turns", _turns_block(payload)))
    if payload.get("warm_start_s"):
        starts = payload["warm_start_s"]
        parts.append(
            (
                "warm_start",
                f"Warm `roleplay chat` start ({_date(payload)}), seconds from process start to "
                f"the user's prompt, memory and steering on: **{spread(starts)}** (median [min, "
                f"max], n = {len(starts)} starts after one that warms the caches).",
            )
        )
    for part, text in parts:
        blocks.append(
            f"<!-- bench:backends/{part} -->\n{text.rstrip()}\n<!-- /bench:backends/{part} -->"
        )
    return "\n\n".join(blocks) + "\n"


def _date(payload: dict[str, Any]) -> str:
    return str(payload.get("date") or payload.get("machine", {}).get("written", "?"))


def _speed_block(payload: dict[str, Any]) -> str:
    lines = [
        header(
            payload,
            f"{payload.get('threads', '?')} threads; median [min, max] over n interleaved "
            "repeats per side; the ratio's interval is a 95 % bootstrap over repeats.",
        ),
        "",
        "| model | n | bare decode tok/s | pipeline decode tok/s | pipeline / bare "
        "| bare TTFT s | pipeline TTFT s |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, result in payload["speed"].items():
        decode, ttft = result["decode_tok_s"], result["ttft_s"]
        low, high = result["decode_ratio_95"]
        lines.append(
            f"| {label} | {len(decode['bare'])} | {spread(decode['bare'], 1)} | "
            f"{spread(decode['pipeline'], 1)} | **{result['decode_ratio_median']:.2f} "
            f"[{low:.2f}, {high:.2f}]** | {spread(ttft['bare'])} | {spread(ttft['pipeline'])} |"
        )
    return "\n".join(lines)


def _process_block(payload: dict[str, Any]) -> str:
    lines = [
        header(
            payload,
            "One `roleplay chat --once` per run in a fresh data dir; median "
            "[min, max] over n runs; peak RSS from GNU time.",
        ),
        "",
        "| model | n | file | peak RSS MB | RSS - file GB | written to the data dir MB |",
        "|---|---|---|---|---|---|",
    ]
    for label, value in payload["process"].items():
        runs = _process_runs(value)
        size = payload.get("speed", {}).get(label, {}).get("file_bytes")
        rss = [run["peak_rss_bytes"] for run in runs]
        extra = spread([r - size for r in rss], 2, 1e-9) if size else "?"
        lines.append(
            f"| {label} | {len(runs)} | {'?' if not size else f'{size / 1e6:.0f} MB'} | "
            f"{spread(rss, 0, 1e-6)} | {extra} | "
            f"{spread([run['data_dir_bytes'] for run in runs], 2, 1e-6)} |"
        )
    failed = sum(
        run.get("exit_code", 0) != 0
        for v in payload["process"].values()
        for run in _process_runs(v)
    )
    if failed:
        lines.append(f"\n{failed} chat process(es) exited with an error: see the JSON.")
    return "\n".join(lines)


def _turns_block(payload: dict[str, Any]) -> str:
    count = max(
        (
            row["turn"]
            for value in payload["turns"].values()
            for c in _conversations(value)
            for row in c
        ),
        default=10,
    )
    shown = sorted({1, 2, min(5, count), count})
    lines = [
        header(
            payload,
            "TTFT in seconds at each turn of one chat (Mira, memory and steering "
            "on, 60-token replies); median [min, max] over n conversations, each from a "
            "fresh data dir; the ratio is taken per conversation.",
        ),
        "",
        "| conversation | n | "
        + " | ".join(f"turn {t}" for t in shown)
        + f" | turn {count} / turn 2 |",
        "|---|---|" + "---|" * (len(shown) + 1),
    ]
    for label, value in payload["turns"].items():
        conversations = _conversations(value)
        by_turn = [{row["turn"]: row["ttft_s"] for row in c} for c in conversations]
        cells = [spread([t[turn] for t in by_turn if turn in t]) for turn in shown]
        ratios = [t[count] / t[2] for t in by_turn if count in t and t.get(2)]
        lines.append(
            f"| {label} | {len(conversations)} | {' | '.join(cells)} | **{spread(ratios)}** |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
