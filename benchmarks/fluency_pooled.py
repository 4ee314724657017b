"""Steering's fluency cost per direction, pooled over several held-out checks (issue 17).

One check of ``benchmarks/steering_llama_cpp.py`` has 72-144 replies per direction, and at
that size a direction's perplexity ratio moves with which replies the sampler drew about as
much as with the prompt set (BENCHMARKS.md, "Bounds calibrated on four kinds of prompt").
This reads the result files of several checks, rescores their stored replies under the
unsteered model (each reply given its own set's system prompt and prompt, as the check
scored it), and pools each direction's per-reply gaps (steered minus unsteered per-token
log-perplexity, same prompt and seed) over the checks: the ratio, a 95 % paired bootstrap
over (prompt, seed) and a cluster bootstrap over prompts (a prompt of each set is its own
cluster). Each direction is then **above** the budget beyond the noise (the paired
interval's lower end above it), **within** it (the upper end at most the budget), or **not
told apart**. Each file's rescored ratio is printed beside the one it stored; they differ
only where the model or llama.cpp build differ from the check's, which is refused.

    python -m benchmarks.fluency_pooled FILE.json FILE.json [...] [--budget 1.2]
        [--threads 2]

Files are looked up as given, then in ``benchmarks/out/``. Writes
``benchmarks/out/fluency_pooled.json``; ``markdown()`` renders BENCHMARKS.md's table.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.common import OUT_DIR, header, scratch_home, write_result

SIGNS = (("plus", "+"), ("minus", "-"))
# A rescored ratio further than this from the stored one means other weights or another
# build than the check's: pooling its replies would mix two models' readings.
RESCORE_TOLERANCE = 0.01


@dataclass
class Check:
    """One steering_llama_cpp result file, as much of it as pooling needs."""

    path: Path
    prompt_set: str
    system: str
    prompts: list[str]
    seeds: list[int]
    model: str
    baseline: list[str]
    # direction ("attribute +" / "attribute -") -> (replies, stored ratio, strength applied)
    directions: dict[str, tuple[list[str], float, float]] = field(default_factory=dict)


def _fail(path: Path, what: str) -> SystemExit:
    return SystemExit(f"{path}: {what}")


def locate(name: str) -> Path:
    """``name`` as given, else under benchmarks/out/."""
    for candidate in (Path(name), OUT_DIR / name):
        if candidate.is_file():
            return candidate
    raise SystemExit(f"{name}: no such result file (nor in {OUT_DIR})")


def read_check(path: Path) -> Check:
    """Parse one result file; a file of another shape is one clear error."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise _fail(path, f"not a readable JSON result ({error})") from None
    if not isinstance(data, dict):
        raise _fail(path, "not a steering_llama_cpp result (expected an object)")
    needed = ("prompt_set", "system_prompt", "prompts", "seeds", "model", "baseline_replies")
    missing = [key for key in (*needed, "attributes") if key not in data]
    if missing:
        raise _fail(path, f"not a steering_llama_cpp result (no {', '.join(missing)})")
    try:
        return _parse_check(path, data)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _fail(path, f"a malformed steering_llama_cpp result ({error!r})") from None


def _parse_check(path: Path, data: dict[str, Any]) -> Check:
    from benchmarks.steering_llama_cpp import PROMPT_SETS, load_prompts

    prompt_set = data["prompt_set"]
    if prompt_set not in PROMPT_SETS:
        raise _fail(path, f"unknown prompt set {prompt_set!r}")
    listed = load_prompts(prompt_set)
    if listed["system_prompt"] != data["system_prompt"]:
        raise _fail(path, f"the {prompt_set} set's system prompt has changed since this run")
    prompts = list(listed["prompts"][: int(data["prompts"])])
    seeds = [int(seed) for seed in data["seeds"]]
    baseline = list(data["baseline_replies"])
    if len(baseline) != len(prompts) * len(seeds):
        raise _fail(path, f"{len(baseline)} unsteered replies for {len(prompts)} x {len(seeds)}")
    check = Check(path, prompt_set, data["system_prompt"], prompts, seeds, data["model"], baseline)
    for label, row in data["attributes"].items():
        if row.get("scope", "all") != "all":
            continue  # reply-only rows measure another controller
        applied = row.get("applied") or {}
        for sign, mark in SIGNS:
            replies = list(row["replies"][mark])
            if len(replies) != len(baseline):
                raise _fail(path, f"{label} {mark}: {len(replies)} replies, {len(baseline)} pairs")
            asked: Any = applied.get(sign, data.get("strength", 1.0))
            strength = abs(float(asked))
            check.directions[f"{label} {mark}"] = (
                replies,
                float(row[f"ppl_ratio_{sign}"]),
                strength,
            )
    return check


def gaps(steered_nll: Sequence[float], unsteered_nll: Sequence[float]) -> list[float]:
    """Per reply, steered minus unsteered per-token log-perplexity."""
    return [a - b for a, b in zip(steered_nll, unsteered_nll, strict=True)]


def ratio(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(values))


def verdict(interval: Sequence[float], budget: float) -> str:
    """Above the budget beyond the noise, within it, or not told apart."""
    if interval[0] > budget:
        return "above"
    if interval[1] <= budget:
        return "within"
    return "not told apart"


def pool(
    per_check: Sequence[tuple[Sequence[float], Sequence[int]]],
) -> tuple[list[float], list[int]]:
    """Concatenate checks' gaps; each prompt of each check is its own cluster (numbered on
    from the previous check's last)."""
    values: list[float] = []
    clusters: list[int] = []
    offset = 0
    for check_gaps, prompt_ids in per_check:
        values += list(check_gaps)
        clusters += [offset + prompt for prompt in prompt_ids]
        offset += max(prompt_ids, default=-1) + 1
    return values, clusters


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import Progress

    from benchmarks.steering_llama_cpp import Bench, bootstrap

    checks = [read_check(locate(name)) for name in arguments.files]
    models = {check.model for check in checks}
    if len(models) != 1:
        raise SystemExit(f"the checks steered different models: {sorted(models)}")
    shared = set.intersection(*(set(check.directions) for check in checks))
    if not shared:
        raise SystemExit("the checks share no steered direction")
    directions = sorted(shared)
    load_before = os.getloadavg()
    engine = None
    per_direction: dict[str, list[tuple[list[float], list[int]]]] = {d: [] for d in directions}
    files: list[dict[str, Any]] = []
    with Progress() as progress:
        task = progress.add_task("rescoring", total=len(checks) * (1 + len(directions)))
        for check in checks:
            bench = Bench(arguments.threads, check.prompts, check.seeds, check.system, engine)
            engine = bench.engine
            if engine.model_id != check.model:
                raise _fail(check.path, f"steered {check.model}; this model is {engine.model_id}")
            prompt_ids = [prompt for prompt, _ in bench.pairs]
            unsteered = [-v for v in bench.mean_logprob(check.system, check.baseline)]
            progress.advance(task)
            rescored: dict[str, dict[str, float]] = {}
            for direction in directions:
                replies, stored, strength = check.directions[direction]
                steered = [-v for v in bench.mean_logprob(check.system, replies)]
                direction_gaps = gaps(steered, unsteered)
                again = ratio(direction_gaps)
                if abs(again - stored) > RESCORE_TOLERANCE:
                    raise _fail(
                        check.path,
                        f"{direction}: rescored {again:.3f}, stored {stored:.3f} (another "
                        "model or llama.cpp build than the check's)",
                    )
                per_direction[direction].append((direction_gaps, prompt_ids))
                rescored[direction] = {"stored": stored, "rescored": again, "strength": strength}
                progress.advance(task)
            files.append(
                {
                    "file": str(check.path),
                    "prompt_set": check.prompt_set,
                    "n_pairs": len(check.baseline),
                    "prompts": len(check.prompts),
                    "seeds": check.seeds,
                    "directions": rescored,
                }
            )
    rows: dict[str, dict[str, Any]] = {}
    for direction in directions:
        values, clusters = pool(per_direction[direction])
        paired = [math.exp(v) for v in bootstrap(values)]
        by_prompt = [math.exp(v) for v in bootstrap(values, clusters)]
        rows[direction] = {
            "n": len(values),
            "ratio": ratio(values),
            "ratio_95": paired,
            "ratio_95_cluster_prompts": by_prompt,
            "verdict": verdict(paired, arguments.budget),
            "verdict_by_prompt": verdict(by_prompt, arguments.budget),
        }
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average": [load_before[0], os.getloadavg()[0]],
        "model": next(iter(models)),
        "budget": arguments.budget,
        "files": files,
        "directions": rows,
    }


def _interval(values: Sequence[float]) -> str:
    return f"[{values[0]:.2f}, {values[1]:.2f}]"


def markdown(payload: Mapping[str, Any]) -> str:
    files = payload["files"]
    budget = payload["budget"]
    sets = " + ".join(f"{f['prompt_set']} (n {f['n_pairs']})" for f in files)
    lines = [
        header(dict(payload)),
        "",
        f"Model {payload['model']}; checks pooled: {sets}. Ratio of steered to unsteered "
        "perplexity under the unsteered model, per direction at the strength each check "
        "applied; brackets: 95 % paired bootstrap over (prompt, seed); braces: cluster "
        f"bootstrap over prompts. Verdict against {budget:g}x by the paired interval: above "
        "(lower end above), within (upper end at or below), or not told apart.",
        "",
        "| direction | strength | "
        + " | ".join(f"{f['prompt_set']}" for f in files)
        + " | pooled n | pooled ratio | by prompt | verdict |",
        "|---|---|" + "---|" * len(files) + "---|---|---|---|",
    ]
    for direction, row in payload["directions"].items():
        strengths = {f"{f['directions'][direction]['strength']:g}" for f in files}
        each = " | ".join(f"{f['directions'][direction]['rescored']:.2f}" for f in files)
        lines.append(
            f"| {direction} | {'/'.join(sorted(strengths))} | {each} | {row['n']} | "
            f"{row['ratio']:.2f} {_interval(row['ratio_95'])} | "
            f"{{{row['ratio_95_cluster_prompts'][0]:.2f}, "
            f"{row['ratio_95_cluster_prompts'][1]:.2f}}} | **{row['verdict']}** |"
        )
    counts = {
        kind: sum(row["verdict"] == kind for row in payload["directions"].values())
        for kind in ("above", "within", "not told apart")
    }
    lines += ["", "; ".join(f"{kind}: {count}" for kind, count in counts.items()) + "."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="steering_llama_cpp result files")
    parser.add_argument("--budget", type=float, default=1.2)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args(argv)
    with scratch_home():
        payload = run(arguments)
    path = write_result("fluency_pooled", payload)
    sys.stdout.write(markdown(json.loads(path.read_text(encoding="utf-8"))) + "\n")
    print(f"written to {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
