"""`roleplay serve` against in-process chat, in one run (issue: serve).

Both sides run the default model (the embedded GGUF on llama.cpp, built by
``roleplay.application.build_pipeline``) with the same options: 2 threads, steering on
(control vectors), memory and the toxicity flag off so that both sides build the same prompt.

1. Time to first token and decode speed: in-process ``Conversation.send`` against the same
   turn through the server (the official openai client, streaming), interleaved repeats
   (the order alternates), the same prompt (Mira's card, her greeting, one user message) and
   the same seed per repeat on both sides, so both generate the same tokens from an empty KV
   cache. TTFT is measured from the call (``send`` / the HTTP request) to the first non-empty
   piece; decode is (tokens - 1) / (time from the first piece to the reply's end: the
   stream's end, after the reply was stored, on both sides; see ``rates``). A second server,
   started with ``--stream-interval-ms 0`` (every token handed to the client as it comes,
   as before the default became 50 ms), runs the same turns interleaved with the other two
   sides, so the effect of batching the stream is measured in the same run.
2. Throughput: 4 clients at once against the server (each its own conversation), against the
   same 4 requests one after another, ``--throughput-repeats`` times (a range, not one draw).

Both are done for each ``--threads`` count (default 2, then 1), each with its own server.

The server runs in its own process (as it does for users), started by this script with
``--serve PORT``; the client side runs here.

    python -m benchmarks.serve_speed [--repeats 5] [--tokens 64] [--threads 2 1] [--clients 4]
        [--throughput-repeats 3]

Writes benchmarks/out/serve_speed.json; ``markdown()`` renders BENCHMARKS.md's tables from it.
"""

from __future__ import annotations

import argparse
import json
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


INTERVALS_MS = {"served": 50, "served, every token": 0}  # the default, and per token


def serve(port: int, tokens: int, threads: int, interval_ms: int) -> None:
    """The server side (a child process of the benchmark)."""
    import uvicorn

    from roleplay.application import build_pipeline, load_engine
    from roleplay.serve.app import create_app

    options = _options(tokens, threads)
    engine = load_engine(options.backend)
    app = create_app(
        lambda: build_pipeline(options, engine=engine),
        api_key=API_KEY,
        stream_interval_s=interval_ms / 1000,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# Measuring ---------------------------------------------------------------------------------


def rates(started: float, stamps: list[float], ended: float, tokens: int) -> dict[str, float]:
    """TTFT (s) and decode (tok/s) from the call's start, the pieces' arrival times and the
    moment the reply was complete (the stream's end).

    ``decode`` runs from the first piece to the reply's end, on both sides. The older measure,
    to the last text piece (``decode_last_piece``), was biased against the server: a reply
    that ends at a stop string (a new line and "User:") generates a few held-back tokens
    after its last visible piece, which in-process chat stamps before them and the batched
    server sends after them (its last batch goes when the engine is done), while both divide
    by all the tokens. Kept for the record.
    """
    first, last = stamps[0], stamps[-1]

    def per_second(span: float) -> float:
        return (tokens - 1) / span if tokens > 1 and span > 0 else 0.0

    return {
        "ttft": first - started,
        "decode": per_second(ended - first),
        "decode_last_piece": per_second(last - first),
    }


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
    ended = time.perf_counter()  # generated and stored, as the served stream's end
    tokens = stream.stats.new_tokens
    return {
        **rates(started, stamps, ended, tokens),
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
    ended = time.perf_counter()  # after the usage chunk: the reply was stored before it
    text = "".join(pieces).strip()
    return {
        **rates(started, stamps, ended, tokens),
        "tokens": tokens,
        "text": text,
        "total": ended - started,
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--throughput-repeats", type=int, default=3)
    parser.add_argument("--serve", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--stream-interval-ms", type=int, default=50, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve is not None:
        serve(arguments.serve, arguments.tokens, arguments.threads[0], arguments.stream_interval_ms)
        return
    from benchmarks.common import load_average, write_result

    load_before = load_average()
    by_threads = {str(threads): measure(arguments, threads) for threads in arguments.threads}
    result = {
        "repeats": arguments.repeats,
        "tokens": arguments.tokens,
        "clients": arguments.clients,
        "throughput_repeats": arguments.throughput_repeats,
        "by_threads": by_threads,
        "load_average": [load_before, load_average()],
    }
    path = write_result("serve_speed", result)
    print(markdown(json.loads(path.read_text())))
    print(f"\nwritten to {path}")


def measure(arguments: argparse.Namespace, threads: int) -> dict[str, Any]:
    """Every measurement at one thread count, against a server of its own."""
    # A fresh data folder, shared with the server process (its stored replies are read back).
    os.environ["ROLEPLAY_HOME"] = tempfile.mkdtemp(prefix="bench-serve-")

    import openai

    from benchmarks.common import load_average
    from roleplay.application import build_pipeline
    from roleplay.cards.registry import resolve_card

    ports = {side: _free_port() for side in INTERVALS_MS}
    processes = {
        side: subprocess.Popen(
            [
                *(sys.executable, "-m", "benchmarks.serve_speed", "--serve", str(ports[side])),
                *("--tokens", str(arguments.tokens), "--threads", str(threads)),
                *("--stream-interval-ms", str(INTERVALS_MS[side])),
            ],
            text=True,
        )
        for side in INTERVALS_MS
    }
    try:
        pipeline = build_pipeline(_options(arguments.tokens, threads))
        card = resolve_card("mira")
        greeting = pipeline.start(card).messages()[0].content

        def client_for(side: str) -> Any:
            return openai.OpenAI(
                base_url=f"http://127.0.0.1:{ports[side]}/v1",
                api_key=API_KEY,
                max_retries=0,
                timeout=600,
            )

        def client_factory() -> Any:
            return client_for("served")

        clients = {side: client_for(side) for side in INTERVALS_MS}
        for side, process in processes.items():
            _wait_ready(clients[side], process)
        load_before = load_average()
        in_process(pipeline, card, 1)  # warm-up: vectors, caches, page-ins
        for side, client in clients.items():
            served(client, greeting, 1, f"warm-up {side}")
        sides = ["in-process", *INTERVALS_MS]
        runs: dict[str, list[dict[str, Any]]] = {side: [] for side in sides}
        for repeat in range(arguments.repeats):
            seed = 100 + repeat
            shift = repeat % len(sides)  # each side takes each place in the order in turn
            for side in sides[shift:] + sides[:shift]:
                if side == "in-process":
                    runs[side].append(in_process(pipeline, card, seed))
                else:
                    user = f"{side} repeat-{repeat}"
                    runs[side].append(served(clients[side], greeting, seed, user))
        client = clients["served"]
        together, apart = [], []
        for round_ in range(arguments.throughput_repeats):
            tag = f"r{round_}"
            together.append(concurrent(client_factory, greeting, arguments.clients, f"{tag}-t"))
            apart.append(sequential(client, greeting, arguments.clients, f"{tag}-a"))
        load_after = load_average()
    finally:
        for process in processes.values():
            process.terminate()
        for process in processes.values():
            process.wait(timeout=30)
    for side in INTERVALS_MS:
        add_served_engine_side(runs[side])
    same_text = sum(
        a["text"] == b["text"] for a, b in zip(runs["in-process"], runs["served"], strict=True)
    )
    return {
        "threads": threads,
        "model": pipeline.engine.model_id,
        "runs": runs,
        "same_text": same_text,
        "concurrent": together,
        "sequential": apart,
        "load_average": [load_before, load_after],
    }


# Rendering (BENCHMARKS.md) -------------------------------------------------------------------


def _side(run: dict[str, Any], key: str) -> tuple[list[float], list[float]]:
    """One measure of every repeat: (in-process, served)."""
    return [r[key] for r in run["runs"]["in-process"]], [r[key] for r in run["runs"]["served"]]


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's Serve tables from this script's JSON result: in-process against served
    at the first thread count, 4 clients at once against one after another, and the serving
    layer's own cost per thread count (part ``bench:serve_speed/threads``)."""
    from benchmarks.common import header

    runs = payload["by_threads"]
    first = next(iter(runs.values()))
    blocks = [
        header(
            payload,
            f"Model {first['model']}, {first['threads']} threads, {payload['tokens']} new tokens "
            "max; median [min, max] over n interleaved repeats per side (same prompt and seed "
            "per repeat); decode ratios with a 95 % bootstrap over repeats.",
        ),
        _latency_table(first),
        _throughput_table(first, payload),
    ]
    threads = "\n\n".join(
        [
            header(
                payload,
                "The serving layer's own cost per thread count: TTFT minus the engine's own "
                "(tokenising + prefill) on each side, decode ratios by the client's and by the "
                "engine's clock, for the default server (tokens handed over every 50 ms at most) "
                "and for one handing over every token; median [min, max] over n repeats, ratios "
                "with a 95 % bootstrap.",
            ),
            _threads_table(runs),
        ]
    )
    blocks.append(
        f"<!-- bench:serve_speed/threads -->\n{threads}\n<!-- /bench:serve_speed/threads -->"
    )
    return "\n\n".join(blocks) + "\n"


def _latency_table(run: dict[str, Any]) -> str:
    from benchmarks.common import bootstrap_ratio, spread

    ttft_local, ttft_remote = _side(run, "ttft")
    decode_local, decode_remote = _side(run, "decode")
    delta = [(b - a) * 1000 for a, b in zip(ttft_local, ttft_remote, strict=True)]
    ratio = statistics.median(decode_remote) / statistics.median(decode_local)
    low, high = bootstrap_ratio(decode_remote, decode_local)
    n = len(ttft_local)
    return "\n".join(
        [
            "| measure | n | in-process `Conversation.send` | served | served - in-process |",
            "|---|---|---|---|---|",
            f"| TTFT ms | {n} | {spread(ttft_local, 0, 1000)} | {spread(ttft_remote, 0, 1000)} | "
            f"**{spread(delta, 0)} ms** (paired) |",
            f"| decode tok/s | {n} | {spread(decode_local, 1)} | {spread(decode_remote, 1)} | "
            f"**x{ratio:.2f} [{low:.2f}, {high:.2f}]** |",
            f"| same text both sides | {n} | | | {run['same_text']}/{n} |",
        ]
    )


def _throughput_table(run: dict[str, Any], payload: dict[str, Any]) -> str:
    from benchmarks.common import spread

    clients = payload.get("clients", len(_rounds(run["concurrent"])[0]["ttft_s"]))
    lines = [
        f"| {clients} requests | n | wall s | tok/s | TTFT per client s (median of n) "
        "| all complete, texts distinct |",
        "|---|---|---|---|---|---|",
    ]
    for name, key in (
        (f"{clients} clients at once", "concurrent"),
        ("one after another", "sequential"),
    ):
        rounds = _rounds(run[key])
        per_client = zip(*(r["ttft_s"] for r in rounds), strict=True)
        ttfts = ", ".join(f"{statistics.median(t):.2f}" for t in per_client)
        ok = all(r["complete"] and len(set(r["texts"])) == len(r["texts"]) for r in rounds)
        lines.append(
            f"| {name} | {len(rounds)} | {spread([r['wall_s'] for r in rounds])} | "
            f"{spread([r['tok_s'] for r in rounds], 1)} | {ttfts} | {'yes' if ok else '**no**'} |"
        )
    return "\n".join(lines)


def _rounds(value: Any) -> list[dict[str, Any]]:
    """Throughput rounds (older results held one round, not a list)."""
    return value if isinstance(value, list) else [value]


def _threads_table(runs: dict[str, dict[str, Any]]) -> str:
    from benchmarks.common import bootstrap_ratio, spread

    lines = [
        "| threads (load) | n | TTFT served - in-process, paired ms | TTFT minus the engine's "
        "own, in-process / served ms | decode served / in-process (client, to the reply's "
        "end) | (engine's clock) | (client, to the last piece: biased) "
        "| every token: decode / in-process (client) | (engine's clock) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for threads, run in runs.items():
        local, remote = run["runs"]["in-process"], run["runs"]["served"]
        delta = [(b["ttft"] - a["ttft"]) * 1000 for a, b in zip(local, remote, strict=True)]
        own_local = [(r["ttft"] - r["engine_ttft"]) * 1000 for r in local]
        own_remote = [(r["ttft"] - r["engine_ttft"]) * 1000 for r in remote]
        added = statistics.median(own_remote) - statistics.median(own_local)
        # Older results have no every-token server (the default handed over every token).
        per_token = run["runs"].get("served, every token")
        cells = []
        default_keys = ("decode", "engine_decode", "decode_last_piece")
        for side, keys in ((remote, default_keys), (per_token, ("decode", "engine_decode"))):
            for key in keys:
                if side is None or key not in side[0]:
                    cells.append("-")
                    continue
                a, b = [r[key] for r in side], [r[key] for r in local]
                low, high = bootstrap_ratio(a, b)
                cells.append(
                    f"x{statistics.median(a) / statistics.median(b):.3f} [{low:.3f}, {high:.3f}]"
                )
        before, after = run.get("load_average", [None, None])
        load = f"{before:.1f} -> {after:.1f}" if before is not None and after is not None else "?"
        lines.append(
            f"| {threads} ({load}) | {len(local)} | {spread(delta, 0)} | {spread(own_local, 1)} / "
            f"{spread(own_remote, 1)}: **{added:+.1f} ms** | {' | '.join(cells)} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
