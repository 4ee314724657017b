"""Where the milliseconds of one decoded token go, per engine option.

Runs the engine's own decode loop stage by stage with a timer around each stage (forward
pass, logits processors, token choice, detokenizer + stop-string scan), then profiles one
reply with ``torch.profiler`` and lists the most expensive operators (self CPU time).

    python -m benchmarks.profile_decode [--options none,int8] [--tokens 80] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from benchmarks.common import median, write_result
from roleplay.engine.base import ChatMessage, GenerationSettings
from roleplay.paths import configure_library_caches

PROMPT = [
    ChatMessage("system", "You are Mira, a calm starship engineer. Stay in character."),
    ChatMessage("user", "Captain, the engines are failing. What do we do?"),
]


def staged_reply(engine: Any, prompt: str, settings: GenerationSettings) -> dict[str, float]:
    """One reply through the engine's stages; milliseconds per token for each stage."""
    import torch

    from roleplay.engine.decoding import IncrementalDetokenizer, StopStringScanner
    from roleplay.engine.transformers_engine import _Decoder

    input_ids = engine.encode(prompt)
    prompt_length = int(input_ids.shape[1])
    processors = engine.sampling_processors(settings, (), prompt_length)
    detokenizer = IncrementalDetokenizer(engine.tokenizer)
    scanner = StopStringScanner(("\nUser:",))
    all_ids = torch.empty(1, prompt_length + settings.max_new_tokens, dtype=torch.long)
    all_ids[:, :prompt_length] = input_ids
    length = prompt_length
    spent = {"prefill": 0.0, "forward": 0.0, "processors": 0.0, "choice": 0.0, "detokenize": 0.0}
    decoder = _Decoder(engine, prompt_length + settings.max_new_tokens)
    try:
        with torch.inference_mode():
            for _ in range(settings.max_new_tokens):
                started = time.perf_counter()
                if length == prompt_length:
                    logits = decoder.prefill(input_ids)
                    spent["prefill"] += time.perf_counter() - started
                else:
                    logits = decoder.step(all_ids[:, length - 1 : length])
                    spent["forward"] += time.perf_counter() - started
                started = time.perf_counter()
                scores = processors(all_ids[:, :length], logits.float())
                spent["processors"] += time.perf_counter() - started
                started = time.perf_counter()
                token_id = int(scores.argmax(dim=-1)[0])
                spent["choice"] += time.perf_counter() - started
                all_ids[0, length] = token_id
                length += 1
                started = time.perf_counter()
                scanner.feed(detokenizer.push(token_id))
                spent["detokenize"] += time.perf_counter() - started
    finally:
        decoder.close()
    steps = settings.max_new_tokens - 1
    per_token = {
        stage: 1000 * seconds / (steps if stage != "prefill" else 1)
        for stage, seconds in spent.items()
    }
    per_token["prefill"] = 1000 * spent["prefill"]  # once per reply, not per token
    return per_token


def operator_table(engine: Any, prompt: str, settings: GenerationSettings, rows: int) -> Any:
    from torch.profiler import ProfilerActivity, profile

    list(engine.stream(prompt, settings))
    fast = engine.optimization.fast
    if fast is not None:
        fast.forget()  # a cold prompt, as in the timed runs
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        list(engine.stream(prompt, settings))
    averages = profiler.key_averages()
    total = sum(event.self_cpu_time_total for event in averages) or 1.0
    top = sorted(averages, key=lambda event: event.self_cpu_time_total, reverse=True)[:rows]
    return [
        {
            "operator": event.key,
            "calls": event.count,
            "self_ms": round(event.self_cpu_time_total / 1000, 2),
            "share": round(event.self_cpu_time_total / total, 4),
        }
        for event in top
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--options", default="none,fast,int8")
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--rows", type=int, default=15)
    parser.add_argument(
        "--prefill-tokens", type=int, default=0, help="also profile a cold prefill this long"
    )
    arguments = parser.parse_args()
    configure_library_caches()
    import torch

    from roleplay.engine.threads import choose_threads
    from roleplay.engine.transformers_engine import TransformersEngine

    threads = choose_threads(arguments.threads)
    torch.set_num_threads(threads)
    settings = GenerationSettings(
        max_new_tokens=arguments.tokens,
        min_new_tokens=arguments.tokens,
        temperature=0.0,
        repetition_penalty=1.1,  # the chat default's kind of processor chain
    )
    result: dict[str, Any] = {"threads": threads, "tokens": arguments.tokens, "options": {}}
    for option in arguments.options.split(","):
        engine = TransformersEngine.load(None, optimization=option, torch_threads=threads)
        prompt = engine.render_chat(PROMPT)
        staged_reply(engine, prompt, settings)  # warm-up
        stages: dict[str, list[float]] = {}
        for _ in range(arguments.repeats):
            for stage, ms in staged_reply(engine, prompt, settings).items():
                stages.setdefault(stage, []).append(ms)
        summary = {stage: round(median(values), 3) for stage, values in stages.items()}
        load = round(os.getloadavg()[0], 2)
        operators = operator_table(engine, prompt, settings, arguments.rows)
        result["options"][option] = {"ms_per_token": summary, "load": load, "top": operators}
        if arguments.prefill_tokens:
            long_prompt = engine.render_chat(
                [ChatMessage("user", " ".join(["The lighthouse keeper wrote it down."] * 400))]
            )
            ids = engine.encode(long_prompt)[0, : arguments.prefill_tokens]
            text = engine.tokenizer.decode(ids.tolist())
            one = GenerationSettings(max_new_tokens=1, temperature=0.0, repetition_penalty=1.0)
            prefill_top = operator_table(engine, text, one, arguments.rows)
            result["options"][option]["prefill"] = {"tokens": int(ids.shape[0]), "top": prefill_top}
            print(f"\n== {option}: cold prefill of {int(ids.shape[0])} tokens")
            for row in prefill_top:
                print(
                    f"  {row['operator'][:48]:48} {row['calls']:6} {row['self_ms']:9.1f} ms "
                    f"{row['share']:6.1%}"
                )
        print(f"\n== {option} (threads {threads}, load {load})")
        per_token = sum(v for k, v in summary.items() if k != "prefill")
        for stage, ms in summary.items():
            unit = "ms once" if stage == "prefill" else f"ms/token ({ms / per_token:.0%})"
            print(f"  {stage:11} {ms:8.3f} {unit}")
        for row in operators:
            print(
                f"  {row['operator'][:48]:48} {row['calls']:6} {row['self_ms']:9.1f} ms "
                f"{row['share']:6.1%}"
            )
    print(f"written to {write_result('profile_decode', result)}")


if __name__ == "__main__":
    main()
