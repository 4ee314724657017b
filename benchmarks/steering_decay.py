"""Does decaying the vector over a reply keep steering's effect at a lower fluency cost?

Issue 17 asks to consider "decaying the vector over a reply, where that keeps the effect at
lower cost". Decay lowers both the effect and the cost, so the question is whether it does
better than simply steering at a lower constant strength. Three steered conditions, side by
side against the same unsteered replies, on the llama.cpp backend (control vectors):

- **constant**: the shipped steering (each direction at its bound, one strength per reply);
- **decayed**: the same strengths, the vector halving every ``--half-life`` reply tokens
  (steering.yaml's ``reply_half_life``; the prompt keeps the full strength);
- **matched**: one constant strength per reply, the bound times the decay's mean scale over
  ``--tokens`` reply tokens (so both spend the same total strength on a full-length reply).

For every attribute and sign: the pole-likelihood shift (+s minus -s replies, nats/token,
as in ``steering_llama_cpp``) and each direction's perplexity ratio against the unsteered
replies. Then the comparisons, paired over (prompt, seed): per attribute decayed/matched
shift, per direction decayed/matched perplexity, and both pooled over every attribute
(geometric means; one bootstrap resamples the same (prompt, seed) pairs for all of them).

    python -m benchmarks.steering_decay [--prompt-set fourth] [--half-life 32] [--tokens 48]
        [--seeds N] [--attributes a,b] [--quick]

Writes benchmarks/out/steering_decay.json (a plot beside it: shift against cost per
condition).
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from benchmarks.common import write_result
from benchmarks.steering_llama_cpp import (
    PROMPT_SETS,
    RESAMPLES,
    Bench,
    applied_strengths,
    bootstrap,
    evaluation_seeds,
    load_prompts,
    pole_descriptions,
    pole_score,
    prompts_file,
    selected_attributes,
)

CONDITIONS = ("constant", "decayed", "matched")
SIGNS = ("plus", "minus")


def mean_scale(half_life: float, tokens: int) -> float:
    """The decay's mean strength over a reply of ``tokens`` positions (0 .. tokens-1)."""
    if half_life <= 0 or tokens <= 0:
        raise ValueError("half-life and tokens must be positive")
    return statistics.fmean(0.5 ** (n / half_life) for n in range(tokens))


def pooled_log_ratio(
    per_item: Sequence[Sequence[float]], seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """Mean over items (attributes or directions) of the mean over pairs of a per-pair log
    difference, with a 95 % interval resampling the pairs (the same pairs for every item,
    since they share prompts and seeds)."""
    import numpy as np

    data = np.asarray(per_item, dtype=float)  # [items, pairs]
    point = float(data.mean())
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, data.shape[1], size=(RESAMPLES, data.shape[1]))
    means = data[:, picks].mean(axis=(0, 2))
    return point, (float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975)))


def shift_ratio(
    top: Sequence[float], bottom: Sequence[float], seed: int = 0
) -> tuple[float, tuple[float, float]]:
    """mean(top) / mean(bottom) over paired values, with a paired bootstrap interval."""
    import numpy as np

    a, b = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(a), size=(RESAMPLES, len(a)))
    ratios = a[picks].mean(axis=1) / b[picks].mean(axis=1)
    return float(a.mean() / b.mean()), (
        float(np.quantile(ratios, 0.025)),
        float(np.quantile(ratios, 0.975)),
    )


def verdict(log_shift: tuple[float, float], log_cost: tuple[float, float]) -> str:
    """The plan's reading of decayed against matched (BENCHMARKS.md, written before the run):
    better when its cost is lower beyond the noise and its shift is not lower beyond it (or
    its shift is higher and its cost not higher), worse the other way round, else a trade."""
    shift_up, shift_down = log_shift[0] > 0, log_shift[1] < 0
    cost_down, cost_up = log_cost[1] < 0, log_cost[0] > 0
    if (cost_down and not shift_down) or (shift_up and not cost_up):
        return "better"
    if (cost_up and not shift_up) or (shift_down and not cost_down):
        return "worse"
    return "not told apart"


def strengths_for(attribute: str, sign: str, condition: str, scale: float) -> dict[str, float]:
    """The strength a condition steers ``attribute`` at, toward ``sign``: the direction's
    bound (as ``steering_llama_cpp`` applies it), times ``scale`` for matched."""
    bound = applied_strengths(attribute, 1.0)[sign]
    return {attribute: bound * (scale if condition == "matched" else 1.0)}


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    attributes = selected_attributes(arguments.attributes)
    data = load_prompts(arguments.prompt_set)
    prompts: list[str] = data["prompts"][:4] if arguments.quick else data["prompts"]
    count = 2 if arguments.quick else arguments.seeds or len(data["seeds"])
    seeds = evaluation_seeds(data["seeds"], count)
    scale = mean_scale(arguments.half_life, arguments.tokens)
    load_before = os.getloadavg()
    started = time.perf_counter()
    bench = Bench(arguments.threads, prompts, seeds, data["system_prompt"])
    n = len(bench.pairs)
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    replies: dict[str, dict[str, dict[str, list[str]]]] = {}
    with Progress(*columns) as progress:
        total = n * (1 + len(CONDITIONS) * len(SIGNS) * len(attributes))
        task = progress.add_task("unsteered", total=total)
        advance = lambda: progress.advance(task)  # noqa: E731
        baseline = bench.replies({}, arguments.tokens, advance)
        for attribute in attributes:
            replies[attribute] = {}
            for condition in CONDITIONS:
                replies[attribute][condition] = {}
                for sign in SIGNS:
                    progress.update(task, description=f"{attribute} {condition} {sign}")
                    replies[attribute][condition][sign] = bench.replies(
                        strengths_for(attribute, sign, condition, scale),
                        arguments.tokens,
                        advance,
                        half_life=arguments.half_life if condition == "decayed" else None,
                    )
        progress.update(task, description="scoring")
        baseline_nll = [-v for v in bench.mean_logprob(bench.system, baseline)]
        rows = {
            attribute: score_attribute(bench, attribute, replies[attribute], baseline_nll, scale)
            for attribute in attributes
        }
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.steering_decay"
        + "".join(f" {flag}" for flag in arguments.given),
        "model": bench.engine.model_id,
        "backend": "llama.cpp",
        "threads": arguments.threads,
        "half_life": arguments.half_life,
        "tokens": arguments.tokens,
        "matched_scale": scale,
        "prompt_set": arguments.prompt_set,
        "prompts_file": prompts_file(arguments.prompt_set),
        "prompts": len(prompts),
        "seeds": seeds,
        "n_pairs": n,
        "baseline_perplexity": math.exp(statistics.fmean(baseline_nll)),
        "baseline_replies": baseline,
        "attributes": rows,
        "pooled": pooled(rows),
        "load_average_1_5_15": {"before": list(load_before), "after": list(os.getloadavg())},
        "seconds": round(time.perf_counter() - started, 1),
    }


def score_attribute(
    bench: Bench,
    attribute: str,
    replies: dict[str, dict[str, list[str]]],
    baseline_nll: list[float],
    scale: float,
) -> dict[str, Any]:
    """Per condition: the pole shift and each direction's perplexity gaps (per pair, kept
    for the pooled comparison); then decayed against matched."""
    poles = pole_descriptions(attribute)
    clusters = [p for p, _ in bench.pairs]
    row: dict[str, Any] = {"poles": list(poles), "conditions": {}}
    for condition in CONDITIONS:
        high = pole_score(bench, poles, replies[condition]["plus"])
        low = pole_score(bench, poles, replies[condition]["minus"])
        differences = [a - b for a, b in zip(high, low, strict=True)]
        entry: dict[str, Any] = {
            "strengths": {
                sign: strengths_for(attribute, sign, condition, scale)[attribute] for sign in SIGNS
            },
            "pair_shifts": differences,
            "shift": statistics.fmean(differences),
            "shift_95": list(bootstrap(differences)),
            "shift_95_cluster_prompts": list(bootstrap(differences, clusters)),
            "replies": replies[condition],
        }
        for sign in SIGNS:
            nll = [-v for v in bench.mean_logprob(bench.system, replies[condition][sign])]
            gaps = [a - b for a, b in zip(nll, baseline_nll, strict=True)]
            entry[f"gaps_{sign}"] = gaps
            entry[f"ppl_ratio_{sign}"] = math.exp(statistics.fmean(gaps))
            entry[f"ppl_ratio_{sign}_95"] = [math.exp(v) for v in bootstrap(gaps)]
        row["conditions"][condition] = entry
    decayed, matched = row["conditions"]["decayed"], row["conditions"]["matched"]
    ratio, interval = shift_ratio(decayed["pair_shifts"], matched["pair_shifts"])
    row["decayed_vs_matched"] = {"shift_ratio": ratio, "shift_ratio_95": list(interval)}
    for sign in SIGNS:
        gaps = [
            a - b for a, b in zip(decayed[f"gaps_{sign}"], matched[f"gaps_{sign}"], strict=True)
        ]
        row["decayed_vs_matched"][f"ppl_ratio_{sign}"] = math.exp(statistics.fmean(gaps))
        row["decayed_vs_matched"][f"ppl_ratio_{sign}_95"] = [math.exp(v) for v in bootstrap(gaps)]
    return row


def pooled(rows: dict[str, Any]) -> dict[str, Any]:
    """Decayed against matched (and each against constant) over every attribute: the
    geometric mean of the attributes' shift ratios and of the directions' perplexity ratios,
    with intervals that resample the same (prompt, seed) pairs for every attribute."""
    result: dict[str, Any] = {}
    for top, bottom in (("decayed", "matched"), ("decayed", "constant"), ("matched", "constant")):
        gaps = [
            [
                t - b
                for t, b in zip(
                    rows[a]["conditions"][top][f"gaps_{sign}"],
                    rows[a]["conditions"][bottom][f"gaps_{sign}"],
                    strict=True,
                )
            ]
            for a in rows
            for sign in SIGNS
        ]
        cost, cost_interval = pooled_log_ratio(gaps)
        entry: dict[str, Any] = {
            "ppl_ratio": math.exp(cost),
            "ppl_ratio_95": [math.exp(v) for v in cost_interval],
        }
        shifts = pooled_shift_ratio(
            [rows[a]["conditions"][top]["pair_shifts"] for a in rows],
            [rows[a]["conditions"][bottom]["pair_shifts"] for a in rows],
        )
        if shifts is None:  # a shift reversed or vanished: there is no ratio to pool
            entry.update(shift_ratio=None, shift_ratio_95=None, verdict="a shift is not positive")
        else:
            point, log_interval = shifts
            entry.update(
                shift_ratio=math.exp(point),
                shift_ratio_95=[math.exp(v) for v in log_interval],
                verdict=verdict(log_interval, cost_interval),
            )
        result[f"{top}_vs_{bottom}"] = entry
    return result


def pooled_shift_ratio(
    top: Sequence[Sequence[float]], bottom: Sequence[Sequence[float]], seed: int = 0
) -> tuple[float, tuple[float, float]] | None:
    """Mean over attributes of log(mean top shift / mean bottom shift), with a 95 % interval
    resampling the (prompt, seed) pairs jointly; None when a mean shift is not positive."""
    import numpy as np

    high, low = np.asarray(top, dtype=float), np.asarray(bottom, dtype=float)  # [items, pairs]
    ratios = high.mean(axis=1) / low.mean(axis=1)
    if (ratios <= 0).any() or not np.isfinite(ratios).all():
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, high.shape[1], size=(RESAMPLES, high.shape[1]))
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = np.log(high[:, picks].mean(axis=2) / low[:, picks].mean(axis=2)).mean(axis=0)
    draws = draws[np.isfinite(draws)]  # a resample whose shift flips sign has no log ratio
    interval = (float(np.quantile(draws, 0.025)), float(np.quantile(draws, 0.975)))
    return float(np.log(ratios).mean()), interval


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's tables from this script's JSON result."""
    lines = [
        f"{payload['prompts']} prompts x {len(payload['seeds'])} seeds = {payload['n_pairs']} "
        f"pairs per direction; half-life {payload['half_life']:g} tokens, replies of "
        f"{payload['tokens']} tokens, matched scale {payload['matched_scale']:.3f}",
        "",
        "| attribute | shift: constant | decayed | matched | decayed / matched shift "
        "| ppl +: constant / decayed / matched | ppl -: constant / decayed / matched |",
        "|---|---|---|---|---|---|---|",
    ]
    for attribute, row in payload["attributes"].items():
        conditions = row["conditions"]
        shifts = [
            f"{conditions[c]['shift']:+.3f} [{conditions[c]['shift_95'][0]:+.3f}, "
            f"{conditions[c]['shift_95'][1]:+.3f}]"
            for c in CONDITIONS
        ]
        versus = row["decayed_vs_matched"]
        ratio = (
            f"{versus['shift_ratio']:.2f} [{versus['shift_ratio_95'][0]:.2f}, "
            f"{versus['shift_ratio_95'][1]:.2f}]"
        )
        costs = [
            " / ".join(f"{conditions[c][f'ppl_ratio_{s}']:.2f}" for c in CONDITIONS) for s in SIGNS
        ]
        lines.append(f"| {attribute} | {' | '.join(shifts)} | {ratio} | {costs[0]} | {costs[1]} |")
    lines += [
        "",
        "| comparison (pooled) | shift ratio | perplexity ratio | verdict |",
        "|---|---|---|---|",
    ]
    for name, entry in payload["pooled"].items():
        shift, cost = entry["shift_ratio_95"], entry["ppl_ratio_95"]
        shown = (
            "-" if shift is None else f"{entry['shift_ratio']:.2f} [{shift[0]:.2f}, {shift[1]:.2f}]"
        )
        lines.append(
            f"| {name.replace('_vs_', ' / ')} | {shown} | {entry['ppl_ratio']:.3f} "
            f"[{cost[0]:.3f}, {cost[1]:.3f}] | {entry['verdict']} |"
        )
    return "\n".join(lines) + "\n"


def plot(payload: dict[str, Any], path: Any) -> None:
    """Shift against perplexity cost, one point per attribute and condition."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4.5))
    markers = {"constant": "o", "decayed": "s", "matched": "^"}
    for condition in CONDITIONS:
        xs, ys = [], []
        for row in payload["attributes"].values():
            entry = row["conditions"][condition]
            xs.append(math.sqrt(entry["ppl_ratio_plus"] * entry["ppl_ratio_minus"]))
            ys.append(entry["shift"])
        axis.scatter(xs, ys, marker=markers[condition], label=condition)
    for attribute, row in payload["attributes"].items():
        points = [
            (
                math.sqrt(
                    row["conditions"][c]["ppl_ratio_plus"] * row["conditions"][c]["ppl_ratio_minus"]
                ),
                row["conditions"][c]["shift"],
            )
            for c in CONDITIONS
        ]
        # one attribute's three conditions joined, so each attribute's trade reads at a glance
        axis.plot(*zip(*points, strict=True), color="grey", linewidth=0.6, zorder=0)
        axis.annotate(attribute, points[0], fontsize=7)
    axis.set_xlabel("perplexity ratio to unsteered (geometric mean of the two directions)")
    axis.set_ylabel("pole-likelihood shift (nats/token)")
    axis.set_title(f"Decay (half-life {payload['half_life']:g}) vs constant strengths")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--prompt-set", choices=sorted(PROMPT_SETS), default="fourth")
    parser.add_argument("--half-life", type=float, default=32.0, help="tokens (default 32)")
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--seeds", type=int, default=None, help="seeds per prompt")
    parser.add_argument("--attributes", default=None, help="comma-separated (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 prompts x 2 seeds")
    arguments = parser.parse_args(argv)
    if not (math.isfinite(arguments.half_life) and arguments.half_life > 0):
        parser.error("--half-life must be a number of tokens > 0")
    if arguments.tokens <= 0:
        parser.error("--tokens must be > 0")
    arguments.given = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("ROLEPLAY_HOME", tempfile.mkdtemp(prefix="bench-decay-"))
    payload = run(arguments)
    path = write_result("steering_decay", payload)
    plot(payload, path.with_suffix(".png"))
    sys.stdout.write(markdown(payload))
    print(f"written to {path} (plot: steering_decay.png)")


if __name__ == "__main__":
    main()
