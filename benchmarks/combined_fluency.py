"""Fluency of a whole card's steering, and the combined-strength bound (issue 17).

A card steers all five traits at once; their vectors are summed per layer and the sum is
scaled down as a whole when its norm passes steering.yaml's ``max_combined_strength`` (in
the same units as one attribute's strength). That bound (1.0) was set from one hand-picked
combination, and on the default model it binds on every bundled and held-out card: their
summed traits are scaled to 0.57-0.98 of what the card asks. This measures, per card, what
the bound costs in fluency at each value tried: the perplexity ratio of
``benchmarks/steering_llama_cpp.py`` (each reply's per-token log-perplexity under the
unsteered model, steered minus unsteered for the same prompt and seed, averaged and
exponentiated), here with the card's own strengths (its Big Five, each clipped to its
attribute's fluency bound, as chat resolves them) instead of one attribute.

Two uses, never mixed:
- ``--prompts calibration`` (default): the calibration prompts and seeds of
  ``benchmarks/steering_fluency.py`` with the bundled (tuning) cards; the bound chosen is the
  largest value tried whose ratio, pooled over the cards, is within the budget (1.15x, the
  margin under issue 17's 1.2x that the per-attribute bounds use);
- ``--prompts evaluation``: the held-out check of a chosen bound, on the evaluation prompts
  and seeds of ``benchmarks/steering_llama_cpp.py`` with the frozen evaluation set's cards;
  ``--prompts holdout``: the same on its second evaluation set (other prompts, system prompt
  and seeds: ``benchmarks/data/steering_holdout_prompts.yaml``); ``--prompts third`` and
  ``--prompts fourth`` on the third and fourth.

    python -m benchmarks.combined_fluency
        [--prompts calibration|evaluation|holdout|third|fourth]
        [--card-set bundled|evaluation|confirmation|replication] [--bounds 1,1.25,1.5,1.75,2]
        [--budget 1.15] [--tokens 48] [--threads 2] [--decouple-traits on|off] [--quick]

``--decouple-traits on`` steers each card's Big Five at the strengths that cancel the
vectors' cross-talk (steering.yaml's ``decouple_traits``; ``roleplay/control/decoupling.py``)
instead of the card's own: the fluency of that variant.

Writes ``benchmarks/out/combined_fluency_<prompts>.json`` (``..._<prompts>_<card set>.json``
for a card set other than the prompts' default, then ``_decouple_traits_<on|off>`` for a
choice other than steering.yaml's) and prints the table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import (
    add_decouple_traits_argument,
    decouple_choice,
    decouple_suffix,
    decouple_used,
    header,
    scratch_home,
    write_result,
)
from benchmarks.steering_fluency import calibration_prompts
from benchmarks.steering_llama_cpp import (
    TEMPERATURE,
    Bench,
    bootstrap,
    distinct2,
    evaluation_seeds,
    load_prompts,
    prompts_file,
)

BOUNDS = (1.0, 1.25, 1.5, 1.75, 2.0)
# The calibration seeds of the combined bound's run (steering_fluency.py's first three; its
# own calibration now uses more).
CALIBRATION_SEEDS = (1234, 1235, 1236)
BUDGET = 1.15
TARGET = 1.2  # issue 17: steered perplexity at most 1.2x the unsteered, held out
DEFAULT_CARD_SETS = {
    "calibration": "bundled",
    "evaluation": "evaluation",
    "holdout": "evaluation",
    "third": "evaluation",
    "fourth": "evaluation",
}


def prompt_set(name: str) -> tuple[dict[str, Any], list[int], str]:
    """(the prompts file's data, its seeds, where it lives) for ``calibration`` or one of
    ``benchmarks/steering_llama_cpp.PROMPT_SETS``."""
    if name == "calibration":
        where = "roleplay/control/data/eval/neutral_prompts.yaml"
        return calibration_prompts(), list(CALIBRATION_SEEDS), where
    data = load_prompts(name)
    return data, evaluation_seeds(data["seeds"], len(data["seeds"])), prompts_file(name)


def choose_bound(pooled: Mapping[float, float], budget: float) -> float | None:
    """The largest bound whose pooled ratio is within ``budget``, or None when none is."""
    within = [bound for bound, ratio in pooled.items() if ratio <= budget]
    return max(within) if within else None


def ratio_of(gaps: Sequence[float]) -> float:
    return math.exp(statistics.fmean(gaps))


def interval_of(gaps: Sequence[float], clusters: Sequence[int] | None = None) -> list[float]:
    return [math.exp(v) for v in bootstrap(gaps, clusters)]


def card_replies(
    bench: Bench,
    controller: Any,
    tokens: int,
    advance: Callable[[], None],
) -> list[str]:
    """One reply per (prompt, seed) with ``controller``'s steering in force."""
    from roleplay.engine.base import GenerationSettings

    texts = []
    for prompt_index, seed in bench.pairs:
        rendered = bench.render(bench.system, bench.prompts[prompt_index])
        settings = GenerationSettings(max_new_tokens=tokens, temperature=TEMPERATURE, seed=seed)
        with controller.steering():
            events = list(bench.engine.stream(rendered, settings))
        texts.append("".join(event.text for event in events).strip())
        advance()
    return texts


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from roleplay.cards import load_card
    from roleplay.control.config import load_config
    from roleplay.control.controller import Controller
    from roleplay.evaluation.characters import card_set_paths

    bounds = sorted({float(b) for b in arguments.bounds.split(",")})
    if not bounds or bounds[0] <= 0:
        raise SystemExit("--bounds must be positive numbers")
    data, seeds, prompts_file = prompt_set(arguments.prompts)
    prompts: list[str] = data["prompts"][:2] if arguments.quick else data["prompts"]
    seeds = seeds[:1] if arguments.quick else seeds
    tokens = min(arguments.tokens, 8) if arguments.quick else arguments.tokens
    card_set = arguments.card_set or DEFAULT_CARD_SETS[arguments.prompts]
    paths = card_set_paths(card_set)[: 2 if arguments.quick else None]
    cards = [load_card(path) for path in paths]
    load_before = os.getloadavg()
    started = time.perf_counter()
    bench = Bench(arguments.threads, prompts, seeds, data["system_prompt"])
    n = len(bench.pairs)
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    per_card: dict[str, Any] = {}
    with Progress(*columns) as progress:
        task = progress.add_task("unsteered", total=n * (1 + len(cards) * len(bounds)))
        advance = lambda: progress.advance(task)  # noqa: E731
        baseline = bench.replies({}, tokens, advance)
        baseline_nll = [-v for v in bench.mean_logprob(bench.system, baseline)]
        for card in cards:
            rows: dict[str, Any] = {}
            for bound in bounds:
                progress.update(task, description=f"{card.name} at {bound:g}")
                controller = Controller.for_card(
                    bench.engine,
                    card,
                    max_combined_strength=bound,
                    decouple_traits=decouple_choice(arguments.decouple_traits),
                )
                texts = card_replies(bench, controller, tokens, advance)
                nll = [-v for v in bench.mean_logprob(bench.system, texts)]
                gaps = [a - b for a, b in zip(nll, baseline_nll, strict=True)]
                factors = controller.describe()["steering"]["rescaled_layers"]
                rows[f"{bound:g}"] = {
                    "bound": bound,
                    "gaps": gaps,
                    "ppl_ratio": ratio_of(gaps),
                    "ppl_ratio_95": interval_of(gaps),
                    "distinct2": distinct2(texts),
                    "rescaled_layers": factors,
                    "replies": texts,
                }
            per_card[card.name] = {
                "strengths": controller.describe()["steering"]["strengths"],
                "by_bound": rows,
            }
    pooled: dict[str, Any] = {}
    for bound in bounds:
        key = f"{bound:g}"
        gaps = [g for card in per_card.values() for g in card["by_bound"][key]["gaps"]]
        # Clusters: one per prompt (its seeds and cards share the prompt's unsteered reply).
        clusters = [p for _ in per_card for p, _seed in bench.pairs]
        pooled[key] = {
            "bound": bound,
            "n": len(gaps),
            "ppl_ratio": ratio_of(gaps),
            "ppl_ratio_95": interval_of(gaps),
            "ppl_ratio_95_by_prompt": interval_of(gaps, clusters),
            "cards_over_target": sorted(
                name
                for name, card in per_card.items()
                if card["by_bound"][key]["ppl_ratio"] > TARGET
            ),
        }
    chosen = choose_bound({p["bound"]: p["ppl_ratio"] for p in pooled.values()}, arguments.budget)
    config = load_config()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.combined_fluency"
        + "".join(f" {flag}" for flag in arguments.given),
        "model": bench.engine.model_id,
        "backend": "llama.cpp",
        "method": "control_vectors",
        "threads": arguments.threads,
        "prompts_name": arguments.prompts,
        "prompts_file": prompts_file,
        "card_set": card_set,
        "system_prompt": bench.system,
        "prompts": len(prompts),
        "seeds": seeds,
        "tokens": tokens,
        "temperature": TEMPERATURE,
        "n_pairs": n,
        "bounds": bounds,
        "budget": arguments.budget,
        "target": TARGET,
        "shipped_bound": config.max_combined_strength,
        "combination": config.combination,
        "decouple_traits": decouple_used(arguments.decouple_traits, config.decouple_traits),
        "quick": bool(arguments.quick),
        "baseline_perplexity": math.exp(statistics.fmean(baseline_nll)),
        "baseline_distinct2": distinct2(baseline),
        "baseline_replies": baseline,
        "cards": per_card,
        "pooled": pooled,
        "chosen": chosen,
        "load_average": [load_before[0], os.getloadavg()[0]],
        "seconds": round(time.perf_counter() - started, 1),
    }


def _cell(entry: Mapping[str, Any], key: str = "ppl_ratio_95") -> str:
    low, high = entry[key]
    return f"{entry['ppl_ratio']:.2f} [{low:.2f}, {high:.2f}]"


def _factors(entry: Mapping[str, Any]) -> str:
    factors = list(entry["rescaled_layers"].values())
    return "1" if not factors else "/".join(f"{f:.2f}" for f in factors)


def result_name(
    prompts: str, card_set: str, decouple: str | None, shipped_decouple: bool, quick: bool
) -> str:
    """The result's file name (without ``.json``): each choice that differs from the
    default run's adds to it, so that a variant never overwrites the shipped measurement."""
    name = f"combined_fluency_{prompts}"
    if card_set != DEFAULT_CARD_SETS[prompts]:
        name += f"_{card_set}"
    name += decouple_suffix(decouple, shipped_decouple)
    return name + ("_quick" if quick else "")


def markdown(payload: Mapping[str, Any]) -> str:
    """The table: per card and pooled, the perplexity ratio at each bound tried."""
    keys = [f"{b:g}" for b in payload["bounds"]]
    lines = [
        header(
            dict(payload),
            f"Model {payload['model']} on {payload['backend']} ({payload['threads']} threads, "
            f"control vectors); {payload['seconds']:.0f} s.",
        ),
        "",
        f"{payload['prompts_name'].capitalize()} prompts ({payload['prompts_file']}): "
        f"{payload['prompts']} prompts x seeds {payload['seeds']} = n {payload['n_pairs']} "
        f"pairs per card and bound, {payload['tokens']} tokens at temperature "
        f"{payload['temperature']}; cards of the {payload['card_set']} set, each steered with "
        + (
            "the strengths that cancel the vectors' cross-talk (decouple_traits)"
            if payload.get("decouple_traits")
            else "its own strengths"
        )
        + f" (combination: {payload['combination']}). Perplexity ratio of "
        f"steered to unsteered replies under the unsteered model (unsteered perplexity "
        f"{payload['baseline_perplexity']:.2f}); brackets: 95 % paired bootstrap over (prompt, "
        "seed); braces (pooled row): over prompts. In parentheses: the factor the bound scaled "
        "the card's summed vector by at layers 12 / 15 (1: not scaled).",
        "",
        "| card | strengths | " + " | ".join(f"bound {k}" for k in keys) + " |",
        "|---|---|" + "---|" * len(keys),
    ]
    for name, card in payload["cards"].items():
        strengths = ", ".join(f"{a[0].upper()} {v:+.1f}" for a, v in card["strengths"].items())
        cells = [f"{_cell(card['by_bound'][k])} ({_factors(card['by_bound'][k])})" for k in keys]
        lines.append(f"| {name} | {strengths} | " + " | ".join(cells) + " |")
    pooled = payload["pooled"]
    cells = [
        f"**{_cell(pooled[k])}** {{{pooled[k]['ppl_ratio_95_by_prompt'][0]:.2f}, "
        f"{pooled[k]['ppl_ratio_95_by_prompt'][1]:.2f}}}"
        for k in keys
    ]
    lines.append(
        f"| all {len(payload['cards'])} cards (n {pooled[keys[0]]['n']}) | | "
        + " | ".join(cells)
        + " |"
    )
    lines.append("")
    over = [
        f"{k}: {', '.join(pooled[k]['cards_over_target'])}"
        for k in keys
        if pooled[k]["cards_over_target"]
    ]
    if over:
        lines.append(
            f"Cards above {payload['target']:g}x by the point estimate, per bound: "
            f"{'; '.join(over)}."
        )
    chosen = payload["chosen"]
    lines.append(
        f"Largest bound within the {payload['budget']:g}x budget (pooled): "
        + (f"**{chosen:g}**" if chosen is not None else "none of those tried")
        + f" (steering.yaml ships {payload['shipped_bound']:g})."
    )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--prompts", choices=sorted(DEFAULT_CARD_SETS), default="calibration")
    parser.add_argument(
        "--card-set",
        default=None,
        help="default: bundled (calibration), evaluation (the evaluation prompt sets)",
    )
    parser.add_argument("--bounds", default=",".join(f"{b:g}" for b in BOUNDS))
    parser.add_argument("--budget", type=float, default=BUDGET)
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    add_decouple_traits_argument(parser)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: 2 cards, 2 prompts x 1 seed, 8 tokens"
    )
    arguments = parser.parse_args(argv)
    arguments.given = list(sys.argv[1:] if argv is None else argv)
    with scratch_home():
        payload = run(arguments)
    from roleplay.control.config import load_config

    name = result_name(
        arguments.prompts,
        payload["card_set"],
        arguments.decouple_traits,
        load_config().decouple_traits,
        bool(arguments.quick),
    )
    path = write_result(name, payload)
    record: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    sys.stdout.write(markdown(record))
    print(f"result: {path}")


if __name__ == "__main__":
    main()
