"""`roleplay serve` against in-process chat, in one run (issue: serve).

Both sides run the default model (the embedded GGUF on llama.cpp, built by
``roleplay.application.build_pipeline``) with the same options: 2 threads, steering on
(control vectors), memory and the toxicity flag off so that both sides build the same prompt.

1. Time to first token and decode speed: in-process ``Conversation.send`` against the same
   turn through the server (the official openai client, streaming), interleaved repeats
   (the order alternates), the same prompt (Mira's card, her greeting, one user message) and
   the same seed per repeat on both sides, so both generate the same tokens from an empty KV
   cache. TTFT is measured from the call (``send`` / the HTTP request) to the first non-empty
   piece; decode is (tokens - 1) / (time from the first piece to the last).
2. Throughput: 4 clients at once against the server (each its own conversation), against the
   same 4 requests one after another.

The server runs in its own process (as it does for users), started by this script with
``--serve PORT``; the client side runs here.

    python -m benchmarks.serve_speed [--repeats 5] [--tokens 64] [--threads 2] [--clients 4]

Writes benchmarks/out/serve_speed_<N>threads.json and prints the tables (for BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

MESSAGE = "Captain, the engines are failing and the crew is scared. What do we do?"
API_KEY = "bench"


def _options(tokens: int, threads: int) -> Any:
    from roleplay.application import BackendOptions, RuntimeOptions
    from roleplay.features import FeatureOptions

    return RuntimeOptions(
        backend=BackendOptions(backend="llama.cpp", threads=threads),
        max_new_tokens=tokens,
        features=FeatureOptions(memory=False, toxicity=False),
    )


def serve(port: int, tokens: int, threads: int) -> None:
    """The server side (a child process of the benchmark)."""
    import uvicorn

    from roleplay.application import build_pipeline, load_engine
    from roleplay.serve.app import create_app

    options = _options(tokens, threads)
    engine = load_engine(options.backend)
    app = create_app(lambda: build_pipeline(options, engine=engine), api_key=API_KEY)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# Measuring ---------------------------------------------------------------------------------


def rates(started: float, stamps: list[float], tokens: int) -> tuple[float, float]:
    """(TTFT s, decode tok/s) from the call's start and the arrival times of the pieces."""
    ttft = stamps[0] - started
    span = stamps[-1] - stamps[0]
    return ttft, (tokens - 1) / span if tokens > 1 and span > 0 else 0.0


def in_process(pipeline: Any, card: Path, seed: int) -> dict[str, Any]:
    conversation = pipeline.start(card)  # parts are built here, before the clock starts
    started = time.perf_counter()
    stream = conversation.send(MESSAGE, seed=seed)
    stamps: list[float] = []
    pieces: list[str] = []
    for piece in stream:
        if piece.strip() or stamps:
            stamps.append(time.perf_counter())
            pieces.append(piece)
    tokens = stream.stats.new_tokens
    ttft, decode = rates(started, stamps, tokens)
    return {
        "ttft": ttft,
        "decode": decode,
        "tokens": tokens,
        "text": "".join(pieces).strip(),
        **engine_side(stream.stats.ttft, stream.stats.seconds, tokens),
    }


def engine_side(ttft: float, seconds: float, tokens: int) -> dict[str, float]:
    """The engine's own clock: its TTFT (tokenising + prefill) and its decode rate, which
    the serving layer cannot change; what a side adds on top is its overhead."""
    decode = (tokens - 1) / (seconds - ttft) if tokens > 1 and seconds > ttft else 0.0
    return {"engine_ttft": ttft, "engine_decode": decode}


def add_served_engine_side(runs: list[dict[str, Any]]) -> None:
    """The server process stores each reply's timings (``ttft``, ``seconds``) with it."""
    from roleplay.paths import sessions_db_path
    from roleplay.sessions import SessionStore

    store = SessionStore(sessions_db_path())
    by_client = {s.metadata.get("serve_client"): s for s in store.list_sessions()}
    for run in runs:
        reply = store.branch(by_client[run["user"]].id)[-1].metadata
        run.update(engine_side(reply["ttft"], reply["seconds"], reply["tokens"]))


def served(client: Any, greeting: str, seed: int, user: str) -> dict[str, Any]:
    messages = [
        {"role": "assistant", "content": greeting},
        {"role": "user", "content": MESSAGE},
    ]
    started = time.perf_counter()
    stream = client.chat.completions.create(
        model="mira",
        messages=messages,
        seed=seed,
        user=user,
        stream=True,
        stream_options={"include_usage": True},
    )
    stamps: list[float] = []
    pieces: list[str] = []
    tokens = 0
    for chunk in stream:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
            pieces.append(chunk.choices[0].delta.content)
    ttft, decode = rates(started, stamps, tokens)
    finished = time.perf_counter() - started
    text = "".join(pieces).strip()
    return {
        "ttft": ttft,
        "decode": decode,
        "tokens": tokens,
        "text": text,
        "total": finished,
        "user": user,
    }


def concurrent(client_factory: Any, greeting: str, clients: int, tag: str) -> dict[str, Any]:
    results: dict[int, dict[str, Any]] = {}
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            results[index] = served(client_factory(), greeting, 500 + index, f"{tag}-{index}")
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    if errors:
        raise errors[0]
    return _throughput(results, wall)


def sequential(client: Any, greeting: str, clients: int, tag: str) -> dict[str, Any]:
    started = time.perf_counter()
    results = {i: served(client, greeting, 500 + i, f"{tag}-{i}") for i in range(clients)}
    return _throughput(results, time.perf_counter() - started)


def _throughput(results: dict[int, dict[str, Any]], wall: float) -> dict[str, Any]:
    tokens = sum(r["tokens"] for r in results.values())
    return {
        "wall_s": wall,
        "tokens": tokens,
        "tok_s": tokens / wall,
        "ttft_s": [results[i]["ttft"] for i in sorted(results)],
        "complete": all(r["tokens"] > 0 and r["text"] for r in results.values()),
        "texts": [results[i]["text"] for i in sorted(results)],
    }


# Running -----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(client: Any, process: subprocess.Popen[str]) -> None:
    import openai

    deadline = time.monotonic() + 300
    while True:
        try:
            client.models.list()
            return
        except openai.APIConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start") from None
            time.sleep(0.25)


def interval(values: list[float], scale: float = 1.0, digits: int = 1) -> str:
    shown = [v * scale for v in values]
    return (
        f"{statistics.median(shown):.{digits}f} [{min(shown):.{digits}f}, {max(shown):.{digits}f}]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve is not None:
        serve(arguments.serve, arguments.tokens, arguments.threads)
        return
    # A fresh data folder, shared with the server process (its stored replies are read back).
    os.environ["ROLEPLAY_HOME"] = tempfile.mkdtemp(prefix="bench-serve-")

    import openai

    from benchmarks.common import write_result
    from roleplay.application import build_pipeline
    from roleplay.cards.registry import resolve_card

    port = _free_port()
    command = [
        sys.executable,
        "-m",
        "benchmarks.serve_speed",
        "--serve",
        str(port),
        "--tokens",
        str(arguments.tokens),
        "--threads",
        str(arguments.threads),
    ]
    process = subprocess.Popen(command, text=True)
    try:
        pipeline = build_pipeline(_options(arguments.tokens, arguments.threads))
        card = resolve_card("mira")
        greeting = pipeline.start(card).messages()[0].content

        def client_factory() -> Any:
            return openai.OpenAI(
                base_url=f"http://127.0.0.1:{port}/v1", api_key=API_KEY, max_retries=0, timeout=600
            )

        client = client_factory()
        _wait_ready(client, process)
        load_before = os.getloadavg()
        in_process(pipeline, card, 1)  # warm-up: vectors, caches, page-ins
        served(client, greeting, 1, "warm-up")
        runs: dict[str, list[dict[str, Any]]] = {"in-process": [], "served": []}
        for repeat in range(arguments.repeats):
            seed = 100 + repeat
            order = ["in-process", "served"] if repeat % 2 == 0 else ["served", "in-process"]
            for side in order:
                if side == "in-process":
                    runs[side].append(in_process(pipeline, card, seed))
                else:
                    runs[side].append(served(client, greeting, seed, f"repeat-{repeat}"))
        together = concurrent(client_factory, greeting, arguments.clients, "together")
        apart = sequential(client, greeting, arguments.clients, "apart")
        load_after = os.getloadavg()
    finally:
        process.terminate()
        process.wait(timeout=30)
    add_served_engine_side(runs["served"])
    same_text = sum(
        a["text"] == b["text"] for a, b in zip(runs["in-process"], runs["served"], strict=True)
    )
    result = {
        "repeats": arguments.repeats,
        "tokens": arguments.tokens,
        "threads": arguments.threads,
        "model": pipeline.engine.model_id,
        "runs": runs,
        "same_text": same_text,
        "concurrent": together,
        "sequential": apart,
        "load_average": {"before": load_before, "after": load_after},
    }
    path = write_result(f"serve_speed_{arguments.threads}threads", result)
    _print(result, path)


def _print(result: dict[str, Any], path: Path) -> None:
    runs = result["runs"]
    local, remote = runs["in-process"], runs["served"]
    ttft_local = [r["ttft"] for r in local]
    ttft_remote = [r["ttft"] for r in remote]
    decode_local = [r["decode"] for r in local]
    decode_remote = [r["decode"] for r in remote]
    ttft_delta = [(b - a) * 1000 for a, b in zip(ttft_local, ttft_remote, strict=True)]
    ratio = statistics.median(decode_remote) / statistics.median(decode_local)
    together, apart = result["concurrent"], result["sequential"]
    before, after = result["load_average"]["before"][0], result["load_average"]["after"][0]
    print(
        f"\nmodel {result['model']}, {result['threads']} threads, {result['tokens']} new tokens "
        f"max, {result['repeats']} interleaved repeats, load average {before:.1f} -> {after:.1f}"
    )
    sides = "in-process `Conversation.send` | served (openai client, SSE)"
    print(f"\n| measure | {sides} | served - in-process |")
    print("|---|---|---|---|")
    print(
        f"| TTFT ms, median [min, max] | {interval(ttft_local, 1000)} | "
        f"{interval(ttft_remote, 1000)} | {interval(ttft_delta, digits=1)} ms (paired) |"
    )
    print(
        f"| decode tok/s, median [min, max] | {interval(decode_local)} | "
        f"{interval(decode_remote)} | x{ratio:.3f} |"
    )
    overhead_local = [(r["ttft"] - r["engine_ttft"]) * 1000 for r in local]
    overhead_remote = [(r["ttft"] - r["engine_ttft"]) * 1000 for r in remote]
    print(
        f"| TTFT minus the engine's own (prefill), ms | {interval(overhead_local)} | "
        f"{interval(overhead_remote)} | "
        f"{statistics.median(overhead_remote) - statistics.median(overhead_local):+.1f} ms |"
    )
    engine_local = [r["engine_decode"] for r in local]
    engine_remote = [r["engine_decode"] for r in remote]
    engine_ratio = statistics.median(engine_remote) / statistics.median(engine_local)
    print(
        f"| decode by the engine's clock, tok/s | {interval(engine_local)} | "
        f"{interval(engine_remote)} | x{engine_ratio:.3f} |"
    )
    print(
        f"| tokens per reply | {statistics.median(r['tokens'] for r in local):.0f} | "
        f"{statistics.median(r['tokens'] for r in remote):.0f} | same text in "
        f"{result['same_text']}/{len(local)} repeats |"
    )
    columns = "wall s | tokens | tok/s | TTFT per client s | all complete, distinct"
    print(f"\n| {len(together['ttft_s'])} requests | {columns} |")
    print("|---|---|---|---|---|---|")
    for name, run in (("4 clients at once", together), ("one after another", apart)):
        distinct = len(set(run["texts"])) == len(run["texts"])
        ttfts = ", ".join(f"{t:.2f}" for t in run["ttft_s"])
        print(
            f"| {name} | {run['wall_s']:.2f} | {run['tokens']} | {run['tok_s']:.1f} | "
            f"{ttfts} | {run['complete'] and distinct} |"
        )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
