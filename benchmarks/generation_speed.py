"""Generation speed and quality of every engine option side by side, and llama.cpp, in one run.

For each option of ``TransformersEngine.load(optimization=...)`` (none = float32 transformers
forward, fast = compact forward, int8 = fast + int8 weights), plus raw ``model.generate`` in
float32, the int8 engine with simulated steering (a fixed vector added at two decoder
layers by forward hooks), and llama.cpp on the same GGUF file when ``llama-cpp-python`` is
installed:

- decode speed: the same chat prompt, greedy, ``--tokens`` new tokens (end of turn
  suppressed so every run makes the same count), runs interleaved across variants and
  repeated; medians, the ratio to llama.cpp and the load average at each run;
- time to first token and prefill tokens/s at ~``--context`` tokens of prompt (cold cache),
  and the follow-up turn's TTFT when the cached prefix is reused (our fast path);
- quality against float32: perplexity of benchmarks/data/reference_prose.txt and greedy
  agreement on benchmarks/data/agreement_prompts.json (exact-match rate, mean matching
  prefix length over ``--agree-tokens`` tokens).

The machine is shared: compare numbers from the same run only.

    python -m benchmarks.generation_speed [--tokens 80] [--repeats 5] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import median, write_result
from roleplay.engine.base import ChatMessage, GenerationSettings, GenerationStats
from roleplay.paths import configure_library_caches

DATA = Path(__file__).resolve().parent / "data"
CHAT_PROMPT = [
    ChatMessage("system", "You are Mira, a calm starship engineer. Stay in character."),
    ChatMessage("user", "Captain, the engines are failing. What do we do?"),
]
STEERED_LAYERS = (10, 20)  # two layers, as the controller steers (scaled to the model depth)
STEERING_STRENGTH = 4.0


def load_average() -> float:
    return round(os.getloadavg()[0], 2)


# --- steering -------------------------------------------------------------------------------


@contextmanager
def simulated_steering(model: Any) -> Iterator[None]:
    """Add a fixed vector at two decoder layers, with the controller's hook code when present."""
    import torch

    layers = model.config.num_hidden_layers
    picked = sorted({min(layers - 1, round(i * layers / 30)) for i in STEERED_LAYERS})
    generator = torch.Generator().manual_seed(0)
    deltas = {}
    for layer in picked:
        vector = torch.randn(model.config.hidden_size, generator=generator)
        deltas[layer] = vector / vector.norm() * STEERING_STRENGTH
    try:
        from roleplay.control.hooks import steering_applied
    except ImportError:
        steering_applied = None
    if steering_applied is not None:
        with steering_applied(model, deltas):
            yield
        return
    handles = []
    for layer, delta in deltas.items():

        def hook(_module: Any, _inputs: Any, output: Any, delta: Any = delta) -> Any:
            return (output[0] + delta, *output[1:]) if isinstance(output, tuple) else output + delta

        handles.append(model.model.layers[layer].register_forward_hook(hook))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


# --- llama.cpp --------------------------------------------------------------------------------


class LlamaCpp:
    """Greedy decoding with llama-cpp-python on the same token ids as ours."""

    def __init__(self, gguf: Path, threads: int, context: int, stop_ids: set[int]) -> None:
        from llama_cpp import Llama

        self.llm = Llama(
            model_path=str(gguf),
            n_ctx=context,
            n_batch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )
        self.stop_ids = stop_ids
        self.version = __import__("llama_cpp").__version__

    def _last_logits(self) -> Any:
        import numpy as np

        vocab = self.llm.n_vocab()
        return np.ctypeslib.as_array(self.llm._ctx.get_logits(), shape=(vocab,))

    def generate(self, prompt_ids: list[int], tokens: int) -> tuple[list[int], float, float]:
        """(new ids, ttft seconds, total seconds), end of turn suppressed like min_new_tokens."""
        import numpy as np

        self.llm.reset()
        started = time.perf_counter()
        self.llm.eval(prompt_ids)
        out: list[int] = []
        ttft = 0.0
        for index in range(tokens):
            logits = self._last_logits().copy()
            for stop in self.stop_ids:
                logits[stop] = -np.inf
            token = int(np.argmax(logits))
            if index == 0:
                ttft = time.perf_counter() - started
            out.append(token)
            if index + 1 < tokens:
                self.llm.eval([token])
        return out, ttft, time.perf_counter() - started

    def all_logits(self, token_ids: list[int]) -> Any:
        """Logits at every position [T, vocab] (a second context with logits_all=True)."""
        from llama_cpp import Llama

        if not hasattr(self, "_scorer"):
            self._scorer = Llama(
                model_path=self.llm.model_path,
                n_ctx=self.llm.n_ctx(),
                n_batch=512,
                n_threads=self.llm.n_threads,
                logits_all=True,
                verbose=False,
            )
        self._scorer.reset()
        self._scorer.eval(token_ids)
        return self._scorer.scores[: len(token_ids)].copy()

    def prefill_seconds(self, prompt_ids: list[int]) -> float:
        self.llm.reset()
        started = time.perf_counter()
        self.llm.eval(prompt_ids)
        self._last_logits()
        return time.perf_counter() - started


# --- our engine -------------------------------------------------------------------------------


def stream_run(engine: Any, prompt: str, settings: GenerationSettings) -> dict[str, Any]:
    stats = GenerationStats()
    ids: list[int] = []
    for event in engine.stream(prompt, settings, stats=stats):
        ids.extend(event.token_ids)
    decode = (stats.new_tokens - 1) / (stats.seconds - stats.ttft) if stats.new_tokens > 1 else 0
    return {
        "tokens_per_s": stats.new_tokens / stats.seconds,
        "decode_tokens_per_s": decode,
        "ttft_s": stats.ttft,
        "ids": ids,
    }


def generate_run(engine: Any, prompt: str, tokens: int) -> dict[str, Any]:
    import torch

    input_ids = engine.encode(prompt)
    started = time.perf_counter()
    with torch.inference_mode():
        output = engine.model.generate(
            input_ids,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            repetition_penalty=1.0,
        )
    seconds = time.perf_counter() - started
    new = output[0, input_ids.shape[1] :].tolist()
    return {"tokens_per_s": len(new) / seconds, "ids": new}


def forget_prefix(engine: Any) -> None:
    fast = engine.optimization.fast
    if fast is not None:
        fast.forget()


def perplexity(logits_of: Callable[[list[int]], Any], ids: list[int]) -> float:
    import torch
    import torch.nn.functional as F

    logits = torch.as_tensor(logits_of(ids)).float()
    return math.exp(float(F.cross_entropy(logits[:-1], torch.tensor(ids[1:]))))


def position_logits(engine: Any, token_ids: list[int]) -> Any:
    """Logits at every position [T, vocab], through the option's own forward."""
    import torch

    fast = engine.optimization.fast
    with torch.inference_mode():
        if fast is not None:
            fast.forget()
            logits = fast.forward(fast.new_cache(), token_ids, all_logits=True)[0]
            fast.forget()
            return logits
        return engine.model(input_ids=torch.tensor([token_ids])).logits[0]


def teacher_forced_agreement(
    logits_of: Callable[[list[int]], Any], prompts: list[list[int]], continuations: list[list[int]]
) -> float:
    """Share of steps where the option's top token equals float32's, fed float32's tokens.

    Unlike greedy agreement this does not stop counting at the first difference, so one
    near-tie early in a reply does not hide how the rest of the steps compare.
    """
    import numpy as np

    same = total = 0
    for prompt, continuation in zip(prompts, continuations, strict=True):
        logits = np.asarray(logits_of(prompt + continuation[:-1]))
        chosen = logits[len(prompt) - 1 :].argmax(axis=-1)
        same += int((chosen == np.asarray(continuation)).sum())
        total += len(continuation)
    return same / total


def greedy_ids(engine: Any, prompt: str, tokens: int) -> list[int]:
    settings = GenerationSettings(
        max_new_tokens=tokens, min_new_tokens=tokens, temperature=0.0, repetition_penalty=1.0
    )
    ids: list[int] = []
    for event in engine.stream(prompt, settings):
        ids.extend(event.token_ids)
    return ids


def agreement(reference: list[list[int]], candidate: list[list[int]]) -> dict[str, float]:
    prefixes = []
    for ref, cand in zip(reference, candidate, strict=True):
        length = 0
        while length < min(len(ref), len(cand)) and ref[length] == cand[length]:
            length += 1
        prefixes.append(length)
    exact = sum(r == c for r, c in zip(reference, candidate, strict=True)) / len(reference)
    return {"exact_match": exact, "mean_prefix": statistics.mean(prefixes)}


def long_prompt(engine: Any, context: int) -> str:
    """A multi-turn chat of about ``context`` tokens built from the reference prose."""
    prose = (DATA / "reference_prose.txt").read_text().split("\n\n")
    messages = [ChatMessage("system", "You are Ada Morrow, a lighthouse engineer.")]
    turn = 0
    while True:
        candidate = [
            *messages,
            ChatMessage("user", f"Tell me more, part {turn + 1}."),
            ChatMessage("assistant", prose[turn % len(prose)]),
        ]
        if engine.count_tokens(engine.render_chat(candidate)) > context - 40:
            break
        messages, turn = candidate, turn + 1
    messages.append(ChatMessage("user", "What happened on the last evening of August?"))
    return engine.render_chat(messages)


def timed(function: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = function()
    return time.perf_counter() - started, value


# --- main -------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--options", default="none,fast,int8")
    parser.add_argument("--context", type=int, default=2048)
    parser.add_argument("--context-repeats", type=int, default=2)
    parser.add_argument("--agree-tokens", type=int, default=40)
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--no-llamacpp", action="store_true")
    parser.add_argument("--out", default="generation_speed")
    arguments = parser.parse_args()
    configure_library_caches()
    import torch

    from roleplay.engine.default_model import default_gguf_path
    from roleplay.engine.optimization import QUALITY_THRESHOLDS
    from roleplay.engine.threads import choose_threads
    from roleplay.engine.transformers_engine import TransformersEngine

    threads = choose_threads(arguments.threads)
    torch.set_num_threads(threads)
    options = [o.strip() for o in arguments.options.split(",") if o.strip()]
    print(f"threads={threads} load={load_average()} options={options}", flush=True)

    engines: dict[str, Any] = {}
    load_seconds: dict[str, float] = {}
    for option in options:
        seconds, engine = timed(
            lambda option=option: TransformersEngine.load(
                None, optimization=option, torch_threads=threads
            )
        )
        engines[option], load_seconds[option] = engine, round(seconds, 2)
        print(f"loaded {option}: {seconds:.1f}s {engine.optimization.notes}", flush=True)
    if "int8" in engines:  # a second load shows the quantized cache being reused
        seconds, _ = timed(
            lambda: TransformersEngine.load(None, optimization="int8", torch_threads=threads)
        )
        load_seconds["int8 (cached)"] = round(seconds, 2)
    torch.set_num_threads(threads)
    # The baseline is always float32 transformers, also when "none" is not being compared.
    reference = engines.get("none") or TransformersEngine.load(
        None, optimization="none", torch_threads=threads
    )
    prompt = reference.render_chat(CHAT_PROMPT)
    prompt_ids = reference.encode(prompt)[0].tolist()

    llama = None
    if not arguments.no_llamacpp:
        try:
            llama = LlamaCpp(
                default_gguf_path(),
                threads,
                max(4096, arguments.context + 256),
                set(reference.stop_token_ids),
            )
        except ImportError:
            print("llama-cpp-python is not installed: no llama.cpp column", flush=True)

    settings = GenerationSettings(
        max_new_tokens=arguments.tokens,
        min_new_tokens=arguments.tokens,
        temperature=0.0,
        repetition_penalty=1.0,
    )
    variants: dict[str, Callable[[], dict[str, Any]]] = {
        "generate float32": lambda: generate_run(reference, prompt, arguments.tokens)
    }
    for option, engine in engines.items():
        variants[f"engine {option}"] = lambda engine=engine: stream_run(engine, prompt, settings)
    steered_option = "int8" if "int8" in engines else options[-1]
    steered_engine = engines[steered_option]

    def steered() -> dict[str, Any]:
        with simulated_steering(steered_engine.model):
            return stream_run(steered_engine, prompt, settings)

    variants[f"engine {steered_option} + steering"] = steered
    if llama is not None:

        def llama_run() -> dict[str, Any]:
            ids, ttft, seconds = llama.generate(prompt_ids, arguments.tokens)
            decode = (len(ids) - 1) / (seconds - ttft)
            return {"tokens_per_s": len(ids) / seconds, "decode_tokens_per_s": decode, "ids": ids}

        variants["llama.cpp"] = llama_run

    # Decode speed, interleaved.
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for function in variants.values():
        function()  # warm-up
    for repeat in range(arguments.repeats):
        for name, function in variants.items():
            result = function()
            result["load"] = load_average()
            runs[name].append(result)
            print(
                f"[{repeat + 1}/{arguments.repeats}] {name}: "
                f"{result['tokens_per_s']:.1f} tok/s (load {result['load']})",
                flush=True,
            )
    speed: dict[str, dict[str, Any]] = {}
    for name, results in runs.items():
        speed[name] = {
            "tokens_per_s": round(median([r["tokens_per_s"] for r in results]), 2),
            "decode_tokens_per_s": round(
                median([r.get("decode_tokens_per_s", r["tokens_per_s"]) for r in results]), 2
            ),
            "runs_tokens_per_s": [round(r["tokens_per_s"], 2) for r in results],
            "load_average": [r["load"] for r in results],
            "first_ids": results[-1]["ids"][:12],
        }
    if llama is not None:
        # Ratio per repeat (same moment, same load), then the median of those ratios.
        for name in speed:
            ratios = [
                ours["tokens_per_s"] / theirs["tokens_per_s"]
                for ours, theirs in zip(runs[name], runs["llama.cpp"], strict=True)
            ]
            speed[name]["ratio_to_llamacpp"] = round(median(ratios), 3)
    steered_name = f"engine {steered_option} + steering"
    plain = runs[f"engine {steered_option}"]
    overheads = [
        p["tokens_per_s"] / s["tokens_per_s"] - 1
        for p, s in zip(plain, runs[steered_name], strict=True)
    ]
    speed[steered_name]["steering_overhead"] = round(median(overheads), 4)

    # Long context: cold TTFT / prefill speed, and the follow-up turn with prefix reuse.
    long_text = long_prompt(reference, arguments.context)
    long_ids = reference.encode(long_text)[0].tolist()
    one = GenerationSettings(max_new_tokens=1, temperature=0.0, repetition_penalty=1.0)
    context: dict[str, dict[str, Any]] = {}
    for _ in range(arguments.context_repeats):
        for option, engine in engines.items():
            forget_prefix(engine)
            stats = GenerationStats()
            list(engine.stream(long_text, one, stats=stats))
            entry = context.setdefault(option, {"ttft_s": [], "load": [], "follow_up_ttft_s": []})
            entry["ttft_s"].append(stats.ttft)
            entry["load"].append(load_average())
            follow = long_text + "The light came on.<|im_end|>\n<|im_start|>user\nAnd then?"
            follow += "<|im_end|>\n<|im_start|>assistant\n"
            stats = GenerationStats()
            list(engine.stream(follow, one, stats=stats))
            entry["follow_up_ttft_s"].append(stats.ttft)
            print(f"context {option}: ttft {entry['ttft_s'][-1]:.2f}s", flush=True)
        if llama is not None:
            seconds = llama.prefill_seconds(long_ids)
            entry = context.setdefault("llama.cpp", {"ttft_s": [], "load": []})
            entry["ttft_s"].append(seconds)
            entry["load"].append(load_average())
            print(f"context llama.cpp: prefill {seconds:.2f}s", flush=True)
    for entry in context.values():
        ttft = median(entry["ttft_s"])
        entry["prompt_tokens"] = len(long_ids)
        entry["median_ttft_s"] = round(ttft, 3)
        entry["prefill_tokens_per_s"] = round(len(long_ids) / ttft, 1)
        if entry.get("follow_up_ttft_s"):
            entry["median_follow_up_ttft_s"] = round(median(entry["follow_up_ttft_s"]), 3)
        entry["ttft_s"] = [round(t, 3) for t in entry["ttft_s"]]
        entry.pop("follow_up_ttft_s", None)

    # Quality against float32: perplexity, greedy agreement, teacher-forced agreement.
    quality: dict[str, dict[str, Any]] = {}
    if not arguments.skip_quality:
        text_ids = reference.tokenizer(
            (DATA / "reference_prose.txt").read_text(), add_special_tokens=False
        )["input_ids"]
        prompts = json.loads((DATA / "agreement_prompts.json").read_text())
        chats = [
            reference.render_chat(
                [ChatMessage("system", p["system"]), ChatMessage("user", p["user"])]
            )
            for p in prompts
        ]
        chat_ids = [reference.encode(chat)[0].tolist() for chat in chats]
        scorers: dict[str, Callable[[list[int]], Any]] = {
            option: (lambda ids, engine=engine: position_logits(engine, ids))
            for option, engine in engines.items()
        }
        outputs = {
            option: [greedy_ids(engine, chat, arguments.agree_tokens) for chat in chats]
            for option, engine in engines.items()
        }
        if llama is not None:
            scorers["llama.cpp"] = llama.all_logits
            outputs["llama.cpp"] = [
                llama.generate(ids, arguments.agree_tokens)[0] for ids in chat_ids
            ]
        base = "none" if "none" in outputs else options[0]
        base_ppl = perplexity(scorers[base], text_ids)
        for name, scorer in scorers.items():
            ppl = perplexity(scorer, text_ids)
            quality[name] = {
                "perplexity": round(ppl, 4),
                "perplexity_increase": round(ppl / base_ppl - 1, 4),
                **{k: round(v, 3) for k, v in agreement(outputs[base], outputs[name]).items()},
                "teacher_forced_agreement": round(
                    teacher_forced_agreement(scorer, chat_ids, outputs[base]), 4
                ),
            }
        with simulated_steering(steered_engine.model):
            quality[f"{steered_option} + steering"] = {
                "perplexity": round(perplexity(scorers[steered_option], text_ids), 4)
            }

    result = {
        "model": reference.model_id,
        "threads": threads,
        "prompt_tokens": len(prompt_ids),
        "new_tokens": arguments.tokens,
        "repeats": arguments.repeats,
        "load_seconds": load_seconds,
        "llama_cpp": getattr(llama, "version", None),
        "speed": speed,
        "long_context": context,
        "quality": quality,
        "quality_thresholds": QUALITY_THRESHOLDS,
    }
    print(f"\n{'variant':32} {'tok/s':>7} {'decode':>7} {'x llama':>8}  load")
    for name, row in speed.items():
        ratio = row.get("ratio_to_llamacpp")
        print(
            f"{name:32} {row['tokens_per_s']:7.1f} {row['decode_tokens_per_s']:7.1f} "
            f"{'' if ratio is None else f'{ratio:8.2f}':>8}  {row['load_average']}"
        )
    print(f"steering overhead: {speed[steered_name]['steering_overhead']:+.1%}")
    for name, entry in context.items():
        follow = entry.get("median_follow_up_ttft_s")
        print(
            f"{name:12} TTFT@{entry['prompt_tokens']} {entry['median_ttft_s']:.2f}s "
            f"prefill {entry['prefill_tokens_per_s']:.0f} tok/s"
            + (f", follow-up turn {follow:.2f}s" if follow is not None else "")
        )
    for name, row in quality.items():
        verdict = ""
        if "teacher_forced_agreement" in row:
            passes = (
                row["perplexity_increase"] <= QUALITY_THRESHOLDS["max_perplexity_increase"]
                and row["teacher_forced_agreement"]
                >= QUALITY_THRESHOLDS["min_teacher_forced_agreement"]
            )
            row["within_default_thresholds"] = passes
            verdict = "  within thresholds" if passes else "  OUTSIDE thresholds"
        print(f"{name:20} {row}{verdict}")
    path = write_result(arguments.out, result)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
