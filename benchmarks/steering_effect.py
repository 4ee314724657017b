"""Does steering move the replies, does the text stay fluent, and what does it cost?

For each attribute, replies to the same neutral prompts (``roleplay/control/data/eval/
neutral_prompts.yaml``) are sampled at strengths -s, 0 and +s with fixed seeds (the same
seed for every strength, so the groups differ only by the steering), then scored with a
scorer the vectors never saw: VADER for sentiment, the documented marker lists of
``data/eval/markers.yaml`` for the other attributes. Reported per attribute: the mean score
per strength, the shift between -s and +s with a 95% bootstrap interval, and fluency per
strength (perplexity of the reply under the unsteered model, distinct-2 over the replies).

A strength sweep on sentiment and extraversion gives the fluency bound: the largest strength
whose perplexity stays under 1.5x the unsteered one and whose distinct-2 stays above 0.85x.
Finally the decoding speed is measured with a plain greedy KV-cache loop with and without
the hooks. Output: ``benchmarks/out/steering_effect.json`` and ``.png``.

    .venv/bin/python benchmarks/steering_effect.py           # full run, ~5-10 min on 2 cores
    .venv/bin/python benchmarks/steering_effect.py --quick   # ~1-2 min smoke run
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

PPL_RATIO_LIMIT = 1.5
DISTINCT2_RATIO_LIMIT = 0.85
SWEEP_ATTRIBUTES = ("sentiment", "extraversion")
# A card-like mix (signs per unit of s) for the composition check.
COMPOSITION = {"extraversion": 1.0, "agreeableness": 1.0, "neuroticism": -1.0, "sentiment": 1.0}


@dataclass
class Reply:
    prompt_index: int
    text: str
    token_ids: list[int]


@dataclass
class Group:
    """Replies generated at one strength setting, with their scores and fluency."""

    strengths: dict[str, float]
    replies: list[Reply]
    nll_sum: float = 0.0
    nll_tokens: int = 0

    @property
    def perplexity(self) -> float:
        return math.exp(self.nll_sum / self.nll_tokens) if self.nll_tokens else float("nan")

    @property
    def distinct2(self) -> float:
        bigrams = []
        for reply in self.replies:
            words = reply.text.lower().split()
            bigrams += list(itertools.pairwise(words))
        return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small, fast variant")
    parser.add_argument("--prompts", type=int, help="neutral prompts used (default 8, quick 4)")
    parser.add_argument("--samples", type=int, help="replies per prompt (default 2, quick 1)")
    parser.add_argument("--strength", type=float, default=1.0, help="s in -s/0/+s (default 1)")
    parser.add_argument("--max-new-tokens", type=int, help="reply length (default 40, quick 24)")
    parser.add_argument("--attributes", help="comma-separated subset (default: all)")
    parser.add_argument("--sweep", help="comma-separated sweep strengths (default 0.25..3)")
    parser.add_argument("--seed", type=int, default=1234)
    # 1 thread on a busy machine: with 2 threads on 2 shared cores every small decode op
    # waits at an OpenMP barrier for both threads to be scheduled (measured: 50x slower).
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out")
    parser.add_argument("--replot", type=Path, help="only redraw the PNG of a result JSON")
    args = parser.parse_args(argv)
    args.prompts = args.prompts or (4 if args.quick else 8)
    args.samples = args.samples or (1 if args.quick else 2)
    args.max_new_tokens = args.max_new_tokens or (24 if args.quick else 40)
    default_sweep = "0.5,1,2" if args.quick else "0.25,0.5,0.75,1,1.5,2,3"
    args.sweep = [float(x) for x in (args.sweep or default_sweep).split(",")]
    return args


def bootstrap_shift(
    low: Sequence[float], high: Sequence[float], seed: int, rounds: int = 2000
) -> tuple[float, float, float]:
    """mean(high) - mean(low) and its 95% percentile-bootstrap interval."""
    rng = np.random.default_rng(seed)
    low_a, high_a = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    shifts = [
        rng.choice(high_a, high_a.size).mean() - rng.choice(low_a, low_a.size).mean()
        for _ in range(rounds)
    ]
    lower, upper = np.percentile(shifts, [2.5, 97.5])
    return float(high_a.mean() - low_a.mean()), float(lower), float(upper)


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        import torch
        from ruamel.yaml import YAML

        from roleplay.control.config import load_config
        from roleplay.control.markers import load_marker_sets
        from roleplay.engine.base import GenerationSettings
        from roleplay.engine.loading import load_model

        self.args = args
        torch.set_num_threads(args.threads)
        self.loaded = load_model()
        # Any: transformers' stubs type generate()/decode() loosely enough to confuse mypy.
        self.model: Any = self.loaded.model
        self.tokenizer: Any = self.loaded.tokenizer
        self.settings = GenerationSettings()  # the chat's own sampling defaults
        data_dir = ROOT / "roleplay" / "control" / "data" / "eval"
        neutral = YAML(typ="safe").load((data_dir / "neutral_prompts.yaml").read_text())
        self.system_prompt: str = neutral["system_prompt"]
        self.prompts: list[str] = neutral["prompts"][: args.prompts]
        self.prompt_ids = [
            self.tokenizer(self._render(p), add_special_tokens=False)["input_ids"]
            for p in self.prompts
        ]
        self.markers = load_marker_sets()
        self.config = load_config()
        self._vader: Any = None
        self.steering_set: Any = None

    def _render(self, prompt: str) -> str:
        messages = [
            {"role": "system", "content": self.system_prompt},
            {"role": "user", "content": prompt},
        ]
        return str(
            self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        )

    def build(self, names: list[str]) -> float:
        from roleplay.control.building import build_steering_set
        from roleplay.control.targets import HookTarget

        started = time.perf_counter()
        # use_cache=False: time a real build, and leave the user's cache alone.
        target = HookTarget(self.model, self.tokenizer, self.loaded.model_id)
        steering_set, _ = build_steering_set(target, names, use_cache=False)
        elapsed = time.perf_counter() - started
        # Measure the raw effect: the sweep must go past the configured combined bound.
        self.steering_set = dataclasses.replace(steering_set, max_combined_strength=None)
        return elapsed

    def steering(self, strengths: Mapping[str, float]) -> AbstractContextManager[Any]:
        active = {name: value for name, value in strengths.items() if value}
        return self.steering_set.apply(self.model, active) if active else nullcontext()

    def generate(self, strengths: Mapping[str, float]) -> Group:
        import torch

        pad = self.tokenizer.pad_token_id
        pad = pad if pad is not None else self.tokenizer.eos_token_id
        width = max(len(ids) for ids in self.prompt_ids)
        # Left padding, built by hand so the shared tokenizer's settings stay untouched.
        input_ids = torch.full((len(self.prompt_ids), width), pad, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        for row, ids in enumerate(self.prompt_ids):
            input_ids[row, width - len(ids) :] = torch.tensor(ids)
            attention[row, width - len(ids) :] = 1
        torch.manual_seed(self.args.seed)
        settings = self.settings
        with self.steering(strengths), torch.inference_mode():
            output = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention,
                do_sample=True,
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k,
                repetition_penalty=settings.repetition_penalty,
                max_new_tokens=self.args.max_new_tokens,
                num_return_sequences=self.args.samples,
                pad_token_id=pad,
            )
        replies = []
        stops = {self.tokenizer.eos_token_id, pad}
        for row, sequence in enumerate(output[:, width:].tolist()):
            ids = []
            for token in sequence:
                if token in stops:
                    break
                ids.append(token)
            text = self.tokenizer.decode(ids, skip_special_tokens=True).strip()
            replies.append(Reply(row // self.args.samples, text, ids))
        group = Group(dict(strengths), replies)
        self._fluency(group)
        return group

    def _fluency(self, group: Group) -> None:
        """Negative log-likelihood of each reply given its prompt, under the plain model."""
        import torch

        rows = [
            (self.prompt_ids[r.prompt_index], r.token_ids) for r in group.replies if r.token_ids
        ]
        if not rows:
            return
        width = max(len(p) + len(r) for p, r in rows)
        pad = self.tokenizer.pad_token_id or 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
        attention = torch.zeros_like(input_ids)
        targets = torch.zeros_like(input_ids, dtype=torch.bool)
        for i, (prompt, reply) in enumerate(rows):
            ids = prompt + reply
            input_ids[i, : len(ids)] = torch.tensor(ids)
            attention[i, : len(ids)] = 1
            targets[i, len(prompt) : len(ids)] = True
        with torch.inference_mode():
            logits = self.model(input_ids=input_ids, attention_mask=attention).logits.float()
        log_probs = torch.log_softmax(logits[:, :-1], dim=-1)
        picked = log_probs.gather(-1, input_ids[:, 1:].unsqueeze(-1)).squeeze(-1)
        mask = targets[:, 1:]
        group.nll_sum = float(-(picked * mask).sum())
        group.nll_tokens = int(mask.sum())

    def scorer(self, attribute: str) -> tuple[str, Callable[[str], float]]:
        if attribute == "sentiment":
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            self._vader = self._vader or SentimentIntensityAnalyzer()
            return "vader_compound", lambda text: float(
                self._vader.polarity_scores(text)["compound"]
            )
        if attribute in self.markers:
            from roleplay.control.markers import marker_score

            markers = self.markers[attribute]
            return "markers_per_100_words", lambda text: marker_score(text, markers)
        raise SystemExit(f"no independent scorer for {attribute!r}; add it to markers.yaml")

    def decode_speed(self, strengths: Mapping[str, float], new_tokens: int) -> float:
        """Tokens/s of a plain greedy KV-cache loop (what the engine does per token)."""
        import torch

        input_ids = torch.tensor([self.prompt_ids[0]])
        with self.steering(strengths), torch.inference_mode():
            started = time.perf_counter()
            output = self.model(input_ids=input_ids, use_cache=True)
            past, token = output.past_key_values, output.logits[:, -1].argmax(-1, keepdim=True)
            for _ in range(new_tokens - 1):
                output = self.model(input_ids=token, past_key_values=past, use_cache=True)
                past, token = output.past_key_values, output.logits[:, -1].argmax(-1, keepdim=True)
            return new_tokens / (time.perf_counter() - started)


def summarise(group: Group, score: Callable[[str], float]) -> dict[str, Any]:
    scores = [score(reply.text) for reply in group.replies]
    return {
        "mean_score": statistics.fmean(scores),
        "scores": scores,
        "perplexity": group.perplexity,
        "distinct2": group.distinct2,
        "examples": [reply.text for reply in group.replies[:2]],
    }


def fluency_bound(sweep: dict[float, dict[str, Any]], base: dict[str, Any]) -> float:
    """Largest swept |s| such that every |s'| <= |s| (both signs) keeps the text fluent."""
    bound = 0.0
    for magnitude in sorted({abs(s) for s in sweep if s}):
        rows = [sweep[s] for s in (magnitude, -magnitude) if s in sweep]
        fluent = all(
            row["perplexity"] < PPL_RATIO_LIMIT * base["perplexity"]
            and row["distinct2"] >= DISTINCT2_RATIO_LIMIT * base["distinct2"]
            for row in rows
        )
        if not fluent:
            break
        bound = magnitude
    return bound


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 2, figsize=(12, 8))
    names = list(results["attributes"])
    # Scorers differ in scale (VADER in [-1, 1], markers per 100 words): plot the shift in
    # units of the scores' pooled standard deviation so the bars are comparable.
    sizes, lows, highs = [], [], []
    for name in names:
        row = results["attributes"][name]
        spread = row.get("pooled_sd") or 1.0
        sizes.append(row["shift"] / spread)
        lows.append((row["shift"] - row["ci95"][0]) / spread)
        highs.append((row["ci95"][1] - row["shift"]) / spread)
    axes[0, 0].bar(names, sizes, yerr=[lows, highs], capsize=4, color="tab:blue")
    axes[0, 0].axhline(0, color="black", linewidth=0.8)
    axes[0, 0].set_title(
        f"shift +s vs -s (s={results['settings']['strength']}) / pooled SD, 95% CI"
    )
    axes[0, 0].tick_params(axis="x", rotation=30)
    for name, sweep in results["sweep"].items():
        strengths = sorted(float(s) for s in sweep)
        rows = [sweep[str(s)] for s in strengths]
        base = sweep["0.0"]
        spread = statistics.pstdev(base["scores"]) or 1.0
        # In unsteered standard deviations, so that VADER and marker scores share an axis.
        axes[0, 1].plot(
            strengths,
            [(r["mean_score"] - base["mean_score"]) / spread for r in rows],
            marker="o",
            label=name,
        )
        axes[1, 0].plot(
            strengths, [r["perplexity"] / base["perplexity"] for r in rows], marker="o", label=name
        )
        axes[1, 1].plot(strengths, [r["distinct2"] for r in rows], marker="o", label=name)
    axes[0, 1].set_yscale("symlog", linthresh=2)  # degenerate "!!!!" replies score huge
    axes[0, 1].set_title("score change vs unsteered, in unsteered SDs")
    axes[1, 0].axhline(PPL_RATIO_LIMIT, color="red", linestyle="--", label="limit")
    axes[1, 0].set_title("perplexity / unsteered perplexity")
    axes[1, 1].set_title("distinct-2")
    for axis in (axes[0, 1], axes[1, 0], axes[1, 1]):
        axis.set_xlabel("strength")
        axis.legend()
    figure.suptitle(f"Steering on {results['model_id']}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def run(args: argparse.Namespace) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from roleplay.control.attributes import load_attributes

    console = Console()
    known = sorted(load_attributes())
    names = [n.strip() for n in args.attributes.split(",")] if args.attributes else known
    with console.status("Loading the default model..."):
        bench = Bench(args)
    s = args.strength
    sweep_names = [n for n in SWEEP_ATTRIBUTES if n in names]
    sweep_points = sorted({x for m in args.sweep for x in (m, -m)} - {s, -s})
    total = len(names) * 2 + 1 + len(sweep_names) * len(sweep_points)
    results: dict[str, Any] = {
        "model_id": bench.loaded.model_id,
        "settings": {
            "quick": args.quick,
            "prompts": len(bench.prompts),
            "samples_per_prompt": args.samples,
            "max_new_tokens": args.max_new_tokens,
            "strength": s,
            "seed": args.seed,
            "threads": args.threads,
            "sampling": {
                "temperature": bench.settings.temperature,
                "top_p": bench.settings.top_p,
                "top_k": bench.settings.top_k,
                "repetition_penalty": bench.settings.repetition_penalty,
            },
        },
        "attributes": {},
        "sweep": {},
    }
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("building vectors", total=1)
        results["build_seconds"] = bench.build(names)
        results["layers"] = list(next(iter(bench.steering_set.vectors.values())).layers)
        results["unit_relative_norm"] = bench.steering_set.unit_relative_norm
        progress.update(task, completed=1)

        task = progress.add_task("generating", total=total)
        baseline = bench.generate({})
        progress.advance(task)
        for name in names:
            label, score = bench.scorer(name)
            groups = {0.0: baseline}
            for strength in (-s, s):
                progress.update(task, description=f"{name} {strength:+g}")
                groups[strength] = bench.generate({name: strength})
                progress.advance(task)
            rows = {k: summarise(g, score) for k, g in groups.items()}
            shift, lower, upper = bootstrap_shift(rows[-s]["scores"], rows[s]["scores"], args.seed)
            results["attributes"][name] = {
                "scorer": label,
                "by_strength": {str(k): v for k, v in sorted(rows.items())},
                "shift": shift,
                "ci95": [lower, upper],
                "ci_excludes_zero": lower > 0 or upper < 0,
                "pooled_sd": statistics.pstdev(rows[-s]["scores"] + rows[s]["scores"]),
                "perplexity_ratio_max": max(
                    rows[k]["perplexity"] / rows[0.0]["perplexity"] for k in (-s, s)
                ),
            }
            if name in sweep_names:
                sweep = dict(rows)
                for strength in sweep_points:
                    progress.update(task, description=f"sweep {name} {strength:+g}")
                    sweep[strength] = summarise(bench.generate({name: strength}), score)
                    progress.advance(task)
                results["sweep"][name] = {str(k): v for k, v in sorted(sweep.items())}
                results["attributes"][name]["fluency_bound"] = fluency_bound(sweep, rows[0.0])

        # Several attributes at once, with and without the configured combined bound.
        task_mix = progress.add_task("composition", total=2)
        mix = {n: v for n, v in COMPOSITION.items() if n in names}
        if mix:
            mixed = {n: v * s for n, v in mix.items()}
            uncapped = bench.generate(mixed)
            progress.advance(task_mix)
            bench.steering_set = dataclasses.replace(
                bench.steering_set, max_combined_strength=bench.config.max_combined_strength
            )
            capped = bench.generate(mixed)
            bench.steering_set = dataclasses.replace(bench.steering_set, max_combined_strength=None)
            progress.advance(task_mix)
            base_row = summarise(baseline, lambda text: 0.0)
            results["composition"] = {
                "strengths": mixed,
                "max_combined_strength": bench.config.max_combined_strength,
                "baseline": {k: base_row[k] for k in ("perplexity", "distinct2")},
                "uncapped": {
                    k: summarise(uncapped, lambda text: 0.0)[k]
                    for k in ("perplexity", "distinct2", "examples")
                },
                "capped": {
                    k: summarise(capped, lambda text: 0.0)[k]
                    for k in ("perplexity", "distinct2", "examples")
                },
            }

        rounds, new_tokens = (2, 24) if args.quick else (5, 64)
        task = progress.add_task("decode speed", total=rounds * 2 + 1)
        everything = dict.fromkeys(names, 1.0)
        bench.decode_speed({}, 8)  # warm-up
        progress.advance(task)
        plain, steered = [], []
        for _ in range(rounds):  # interleaved, so load changes hit both alike
            plain.append(bench.decode_speed({}, new_tokens))
            progress.advance(task)
            steered.append(bench.decode_speed(everything, new_tokens))
            progress.advance(task)
    plain_tps, steered_tps = statistics.median(plain), statistics.median(steered)
    results["overhead"] = {
        "new_tokens": new_tokens,
        "rounds": rounds,
        "attributes_active": len(everything),
        "plain_tokens_per_second": plain_tps,
        "steered_tokens_per_second": steered_tps,
        "overhead_percent": 100.0 * (plain_tps - steered_tps) / plain_tps,
    }
    bounds = [results["attributes"][n]["fluency_bound"] for n in sweep_names]
    results["measured_bound"] = min(bounds) if bounds else None
    return results


def report(results: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    s = results["settings"]["strength"]
    table = Table(title=f"Steering effect at ±{s:g} ({results['model_id']})")
    for column in (
        "attribute",
        "scorer",
        "-s",
        "0",
        "+s",
        "shift [95% CI]",
        "ppl -s/0/+s",
        "d2 -s/0/+s",
    ):
        table.add_column(column)
    for name, row in results["attributes"].items():
        by = row["by_strength"]
        keys = (str(-s), "0.0", str(s))
        table.add_row(
            name,
            row["scorer"],
            *(f"{by[k]['mean_score']:+.3f}" for k in keys),
            f"{row['shift']:+.3f} [{row['ci95'][0]:+.3f}, {row['ci95'][1]:+.3f}]"
            + (" *" if row["ci_excludes_zero"] else ""),
            "/".join(f"{by[k]['perplexity']:.1f}" for k in keys),
            "/".join(f"{by[k]['distinct2']:.2f}" for k in keys),
        )
    console.print(table)
    for name, sweep in results["sweep"].items():
        line = ", ".join(
            f"{float(k):+g}: ppl {v['perplexity']:.1f} d2 {v['distinct2']:.2f} "
            f"score {v['mean_score']:+.2f}"
            for k, v in sweep.items()
        )
        console.print(f"sweep {name}: {line}")
        console.print(
            f"  fluency bound for {name}: {results['attributes'][name]['fluency_bound']:g}"
        )
    if "composition" in results:
        mix = results["composition"]
        console.print(
            f"composition {mix['strengths']}: ppl {mix['baseline']['perplexity']:.1f} unsteered, "
            f"{mix['uncapped']['perplexity']:.1f} uncapped, {mix['capped']['perplexity']:.1f} "
            f"capped at {mix['max_combined_strength']:g}; distinct-2 "
            f"{mix['uncapped']['distinct2']:.2f} / {mix['capped']['distinct2']:.2f}"
        )
    overhead = results["overhead"]
    console.print(
        f"build {results['build_seconds']:.1f} s; decode {overhead['plain_tokens_per_second']:.1f} "
        f"tok/s plain vs {overhead['steered_tokens_per_second']:.1f} steered "
        f"({overhead['overhead_percent']:+.1f}% overhead)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.replot:
        plot(json.loads(args.replot.read_text()), args.replot.with_suffix(".png"))
        return 0
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "steering_effect_quick" if args.quick else "steering_effect"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=2))
    plot(results, args.out / f"{stem}.png")
    report(results)
    print(f"wrote {args.out / (stem + '.json')} and .png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
