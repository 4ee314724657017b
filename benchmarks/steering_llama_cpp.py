"""Does steering move replies on the default path, and what does it cost in fluency?

The embedded model on the llama.cpp backend (control vectors, the path users get). For
every steering attribute, replies at +s and -s (s = the controller's bound, steering.yaml's
max_strength) and unsteered replies to the same evaluation prompts and seeds, none of which
built or calibrated the vectors (``benchmarks/data/steering_eval_prompts.yaml``; calibration
used roleplay/control/data/eval/neutral_prompts.yaml and torch seed 1234). Scored with
scorers that did not build the vectors:

- sentiment: VADER's compound score (a lexicon);
- the Big Five and formality: hand-written word lists (``benchmarks/data/
  steering_scorer_lexicon.yaml``) that share no word or stem with the attribute's
  contrastive pairs or with markers.yaml, 100 * (positive - negative hits) / words.
  Unvalidated: a weak scorer, judge its shifts by their intervals;
- neuroticism, cross-check: NRC emotion lexicon fear + sadness + anger words per 100 words
  (an external lexicon; it did not build the vectors but does contain some pair words);
- every attribute, cross-check: a **pole likelihood** under the unsteered model (the
  interview's idea applied to replies): per reply token, ``log P(reply | system = positive
  pole description) - log P(reply | negative pole)``, the poles being the two halves of the
  attribute's one-line description.

Shift = score(+s) - score(-s), paired over (prompt, seed), 95 % paired bootstrap interval
(resampling (prompt, seed) pairs) and a cluster bootstrap over prompts. Fluency: each
reply's perplexity under the unsteered model (the evaluation system prompt); the ratio of
steered to unsteered perplexity for the same prompts and seeds (exp of the mean per-token
log-perplexity difference), with both intervals. Also distinct-2.

    python -m benchmarks.steering_llama_cpp [--attributes a,b] [--strength 1.0] [--seeds 3]
        [--tokens 48] [--threads 2] [--quick] [--scopes all,reply]
        [--prompt-set evaluation|holdout|third|fourth|fifth]

``--prompt-set holdout`` uses a second evaluation set (``benchmarks/data/
steering_holdout_prompts.yaml``: other prompts, system prompt and seeds, written after the
fluency bounds had been read on the first) and writes steering_llama_cpp_holdout.json;
``--prompt-set third`` a third (``steering_third_prompts.yaml``, written after the second had
been read; since 2026-12-06 11:30 calibration material), writing steering_llama_cpp_third.json;
``--prompt-set fourth`` a fourth (``steering_fourth_prompts.yaml``, written after the third had
been read, and never calibrated on), writing steering_llama_cpp_fourth.json;
``--prompt-set fifth`` a fifth (``steering_fifth_prompts.yaml``, 24 prompts: written after
the fourth had been read, never calibrated on), writing steering_llama_cpp_fifth.json.

``--scopes all,reply`` steers each attribute both ways side by side, against the same
unsteered replies: every token (steering.yaml's ``scope: all``) and only the reply's
(``scope: reply``, docs/controller.md); rows of the second are named "<attribute>, reply
only".

Writes benchmarks/out/steering_llama_cpp.json (``markdown()`` renders BENCHMARKS.md's table),
or steering_llama_cpp_scopes.json with ``--scopes`` other than ``all``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ruamel.yaml import YAML

from benchmarks.common import machine_line, write_result

if TYPE_CHECKING:
    from roleplay.control.config import Scope

DATA = Path(__file__).resolve().parent / "data"
PROMPTS_PATH = DATA / "steering_eval_prompts.yaml"
# The evaluation prompt sets: "evaluation" (2026-12-04), "holdout" (2026-12-06, written
# after every bound had been read on the first), "third" (2026-12-06, written after the
# second showed the bounds missing) and "fourth" (2026-12-06 11:30, written after the third
# showed them missing again; benchmarks/steering_fluency.py may calibrate on the first three,
# never on the fourth) and "fifth" (2026-12-06 20:40, twice the prompts, written after the
# fourth showed three directions missing; never calibrated on either).
PROMPT_SETS = {
    "evaluation": PROMPTS_PATH,
    "holdout": DATA / "steering_holdout_prompts.yaml",
    "third": DATA / "steering_third_prompts.yaml",
    "fourth": DATA / "steering_fourth_prompts.yaml",
    "fifth": DATA / "steering_fifth_prompts.yaml",
}
LEXICON_PATH = DATA / "steering_scorer_lexicon.yaml"
RESAMPLES = 5000
TEMPERATURE = 0.7
POLE_SYSTEM = "You are a character in a role-play. Your personality: {}."
CALIBRATION = {
    "script": "benchmarks/steering_effect.py (transformers float32)",
    "prompts": "roleplay/control/data/eval/neutral_prompts.yaml",
    "seed": 1234,
    "seed_note": "torch.manual_seed(1234) once per strength group; its bootstrap also 1234",
}
SCORER_LABELS = {
    "vader_compound": "VADER compound",
    "lexicon": "word lists (hand-written, unvalidated)",
    "nrc_negative_affect": "NRC fear+sadness+anger /100 words",
    "pole_likelihood": "pole likelihood (nats/token)",
}
_WORD = re.compile(r"[a-z']+")


def load_prompts(prompt_set: str = "evaluation") -> dict[str, Any]:
    path = PROMPT_SETS[prompt_set]
    data: dict[str, Any] = YAML(typ="safe").load(path.read_text(encoding="utf-8"))
    return data


def prompts_file(prompt_set: str) -> str:
    """Where a prompt set lives, relative to the repository."""
    return str(PROMPT_SETS[prompt_set].relative_to(DATA.parent.parent))


def load_lexicon() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = YAML(typ="safe").load(
        LEXICON_PATH.read_text(encoding="utf-8")
    )
    return data


def evaluation_seeds(listed: Sequence[int], count: int) -> list[int]:
    """The first ``count`` listed seeds, continued past the last one if more are asked for."""
    seeds = list(listed[:count])
    while len(seeds) < count:
        seeds.append(max(listed) + 1 + len(seeds) - len(listed))
    if CALIBRATION["seed"] in seeds:
        raise SystemExit("an evaluation seed equals the calibration seed")
    return seeds


def stem(word: str) -> str:
    """Naive stem: one of -ing/-ed/-ly/-s stripped (as the independence test does)."""
    for suffix in ("ing", "ed", "ly", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def lexicon_score(text: str, poles: dict[str, list[str]]) -> float:
    """100 * (positive-pole hits - negative-pole hits) / words; words match by stem."""
    words = _WORD.findall(text.casefold())
    if not words:
        return 0.0
    positive = {stem(w) for w in poles["positive"]}
    negative = {stem(w) for w in poles["negative"]}
    stems = [stem(w) for w in words]
    hits = sum(s in positive for s in stems) - sum(s in negative for s in stems)
    return 100.0 * hits / len(words)


def nrc_negative_affect(text: str) -> float:
    """NRC fear + sadness + anger words per 100 words (tokenised here: nrclex's own needs
    NLTK data that is not installed)."""
    from nrclex import NRCLex

    words = _WORD.findall(text.casefold())
    if not words:
        return 0.0
    lexicon = NRCLex()
    lexicon.load_token_list(words)
    counts = lexicon.raw_emotion_scores
    return 100.0 * sum(counts.get(k, 0) for k in ("fear", "sadness", "anger")) / len(words)


def bootstrap(
    values: Sequence[float], clusters: Sequence[int] | None = None, seed: int = 0
) -> tuple[float, float]:
    """95 % percentile interval of the mean of ``values`` (paired differences), resampling
    single values, or whole clusters (e.g. every seed of one prompt) when given."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    if clusters is None:
        means = data[rng.integers(0, len(data), size=(RESAMPLES, len(data)))].mean(axis=1)
    else:
        keys = sorted(set(clusters))
        sums = np.array([data[[c == k for c in clusters]].sum() for k in keys])
        sizes = np.array([sum(c == k for c in clusters) for k in keys], dtype=float)
        picks = rng.integers(0, len(keys), size=(RESAMPLES, len(keys)))
        means = sums[picks].sum(axis=1) / sizes[picks].sum(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def distinct2(texts: Sequence[str]) -> float:
    bigrams = [
        (a, b) for text in texts for a, b in zip(text.split(), text.split()[1:], strict=False)
    ]
    return len(set(bigrams)) / len(bigrams) if bigrams else 0.0


def pole_descriptions(attribute: str) -> tuple[str, str]:
    from roleplay.control.attributes import bundled_attributes_dir, load_attributes

    description = load_attributes([bundled_attributes_dir()])[attribute].description.rstrip(".")
    positive, _, negative = description.partition(", versus ")
    if not negative:
        raise SystemExit(f"{attribute}: its description has no 'versus' to split into poles")
    return positive.strip(), negative.strip()


class Bench:
    def __init__(
        self,
        threads: int,
        prompts: list[str],
        seeds: list[int],
        system: str,
        engine: Any = None,
    ) -> None:
        """``engine``: one already loaded, shared with another Bench (other prompts)."""
        from roleplay.application import BackendOptions, load_engine
        from roleplay.engine.scorer import scorer_for

        if engine is None:
            engine = load_engine(BackendOptions(backend="llama.cpp", threads=threads))
        self.engine = engine
        self.scorer = scorer_for(self.engine)
        self.prompts, self.seeds, self.system = prompts, seeds, system

    @property
    def pairs(self) -> list[tuple[int, int]]:
        """(prompt index, seed) of every reply, in the order replies() returns them."""
        return [(p, seed) for p in range(len(self.prompts)) for seed in self.seeds]

    def render(self, system: str, prompt: str) -> str:
        from roleplay.engine.base import ChatMessage

        return str(
            self.engine.render_chat([ChatMessage("system", system), ChatMessage("user", prompt)])
        )

    def replies(
        self,
        strengths: dict[str, float],
        tokens: int,
        advance: Callable[[], None],
        scope: Scope = "all",
        half_life: float | None = None,
    ) -> list[str]:
        """One reply per (prompt, seed) steered at ``strengths`` (none: unsteered); with
        ``half_life``, the vectors decay over each reply (steering.yaml's reply_half_life)."""
        from roleplay.control.controller import Controller
        from roleplay.engine.base import GenerationSettings

        controller = (
            Controller.for_card(
                self.engine, None, strengths, scope=scope, reply_half_life=half_life
            )
            if strengths
            else None
        )
        texts = []
        for prompt_index, seed in self.pairs:
            rendered = self.render(self.system, self.prompts[prompt_index])
            settings = GenerationSettings(max_new_tokens=tokens, temperature=TEMPERATURE, seed=seed)
            if controller is None:
                events = list(self.engine.stream(rendered, settings))
            else:
                with controller.steering():
                    events = list(self.engine.stream(rendered, settings))
            texts.append("".join(event.text for event in events).strip())
            advance()
        return texts

    def mean_logprob(self, system: str, texts: Sequence[str]) -> list[float]:
        """Per reply, the mean log-probability per token given ``system`` and its prompt,
        with no control vector in force (the unsteered model)."""
        contexts, continuations = [], []
        for (prompt_index, _), text in zip(self.pairs, texts, strict=True):
            contexts.append(self.scorer.token_ids(self.render(system, self.prompts[prompt_index])))
            continuations.append(self.scorer.token_ids(text or "."))
        totals = self.scorer.continuation_logprobs(
            contexts, continuations, batch_size=8, rows_done=None
        )
        return [total / len(ids) for total, ids in zip(totals, continuations, strict=True)]


def pole_score(bench: Bench, poles: tuple[str, str], texts: Sequence[str]) -> list[float]:
    """Per reply: mean log-probability per token under the positive pole minus the negative."""
    high = bench.mean_logprob(POLE_SYSTEM.format(poles[0]), texts)
    low = bench.mean_logprob(POLE_SYSTEM.format(poles[1]), texts)
    return [h - lo for h, lo in zip(high, low, strict=True)]


def text_scorers(attribute: str, lexicon: dict[str, Any]) -> dict[str, Callable[[str], float]]:
    """The scorers of one attribute that read only the reply text."""
    scorers: dict[str, Callable[[str], float]] = {}
    if attribute == "sentiment":
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

        vader = SentimentIntensityAnalyzer()
        scorers["vader_compound"] = lambda t: float(vader.polarity_scores(t)["compound"])
    if attribute in lexicon:
        poles = lexicon[attribute]
        scorers["lexicon"] = lambda t: lexicon_score(t, poles)
    if attribute == "neuroticism":
        scorers["nrc_negative_affect"] = nrc_negative_affect
    return scorers


def compare(high: Sequence[float], low: Sequence[float], clusters: Sequence[int]) -> dict[str, Any]:
    differences = [a - b for a, b in zip(high, low, strict=True)]
    return {
        "shift": statistics.fmean(differences),
        "shift_95": list(bootstrap(differences)),
        "shift_95_cluster_prompts": list(bootstrap(differences, clusters)),
    }


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from rich.progress import MofNCompleteColumn, Progress, TimeElapsedColumn

    from roleplay.control.config import load_config

    attributes = selected_attributes(arguments.attributes)
    config = load_config()
    strength = config.max_strength if arguments.strength is None else arguments.strength
    data = load_prompts(arguments.prompt_set)
    prompts: list[str] = data["prompts"][:4] if arguments.quick else data["prompts"]
    count = 2 if arguments.quick else arguments.seeds or len(data["seeds"])
    seeds = evaluation_seeds(data["seeds"], count)
    lexicon = load_lexicon()
    load_before = os.getloadavg()
    started = time.perf_counter()
    bench = Bench(arguments.threads, prompts, seeds, data["system_prompt"])
    clusters = [p for p, _ in bench.pairs]
    n = len(bench.pairs)
    results: dict[str, Any] = {}
    columns = (*Progress.get_default_columns(), MofNCompleteColumn(), TimeElapsedColumn())
    scopes: list[Scope] = arguments.scopes
    with Progress(*columns) as progress:
        task = progress.add_task("unsteered", total=n * (1 + 2 * len(attributes) * len(scopes)))
        advance = lambda: progress.advance(task)  # noqa: E731
        baseline = bench.replies({}, arguments.tokens, advance)
        baseline_nll = [-v for v in bench.mean_logprob(bench.system, baseline)]
        for attribute, scope in ((a, scope) for a in attributes for scope in scopes):
            label = row_label(attribute, scope)
            progress.update(task, description=f"{label} +{strength:g}")
            plus = bench.replies({attribute: strength}, arguments.tokens, advance, scope)
            progress.update(task, description=f"{label} -{strength:g}")
            minus = bench.replies({attribute: -strength}, arguments.tokens, advance, scope)
            progress.update(task, description=f"{label}: scoring")
            row: dict[str, Any] = {"n_pairs": n, "scores": {}, "scope": scope}
            for name, score in text_scorers(attribute, lexicon).items():
                high, zero, low = ([score(t) for t in g] for g in (plus, baseline, minus))
                row["scores"][name] = {
                    "plus": statistics.fmean(high),
                    "zero": statistics.fmean(zero),
                    "minus": statistics.fmean(low),
                    **compare(high, low, clusters),
                }
            poles = pole_descriptions(attribute)
            high, zero, low = (pole_score(bench, poles, g) for g in (plus, baseline, minus))
            row["scores"]["pole_likelihood"] = {
                "poles": list(poles),
                "plus": statistics.fmean(high),
                "zero": statistics.fmean(zero),
                "minus": statistics.fmean(low),
                **compare(high, low, clusters),
            }
            for sign, texts in (("plus", plus), ("minus", minus)):
                nll = [-v for v in bench.mean_logprob(bench.system, texts)]
                gaps = [a - b for a, b in zip(nll, baseline_nll, strict=True)]
                row[f"ppl_ratio_{sign}"] = math.exp(statistics.fmean(gaps))
                row[f"ppl_ratio_{sign}_95"] = [math.exp(v) for v in bootstrap(gaps)]
                row[f"ppl_ratio_{sign}_95_cluster_prompts"] = [
                    math.exp(v) for v in bootstrap(gaps, clusters)
                ]
                row[f"perplexity_{sign}"] = math.exp(statistics.fmean(nll))
                row[f"distinct2_{sign}"] = distinct2(texts)
            row["replies"] = {"+": plus, "-": minus}
            row["applied"] = applied_strengths(attribute, strength)
            results[label] = row
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python -m benchmarks.steering_llama_cpp"
        + "".join(f" {flag}" for flag in arguments.given),
        "model": bench.engine.model_id,
        "backend": "llama.cpp",
        "method": "control_vectors",
        "scopes": scopes,
        "threads": arguments.threads,
        "strength": strength,
        "unit_relative_norm": config.unit_relative_norm,
        "tokens": arguments.tokens,
        "temperature": TEMPERATURE,
        "system_prompt": bench.system,
        "prompt_set": arguments.prompt_set,
        "prompts_file": prompts_file(arguments.prompt_set),
        "prompts": len(prompts),
        "seeds": seeds,
        "n_pairs": n,
        "calibration": CALIBRATION,
        "calibration_seed": CALIBRATION["seed"],
        "scorers": SCORER_LABELS,
        "lexicon_note": "hand-written, unvalidated word lists (benchmarks/data/"
        "steering_scorer_lexicon.yaml); no word or stem shared with the attribute's pairs or "
        "markers.yaml; a weak scorer, judge shifts by their intervals",
        "ppl_note": "ratio = exp(mean over (prompt, seed) of steered minus unsteered per-token "
        "log-perplexity), both scored by the unsteered model given the evaluation prompt",
        "baseline_perplexity": math.exp(statistics.fmean(baseline_nll)),
        "baseline_distinct2": distinct2(baseline),
        "baseline_replies": baseline,
        "load_average": [load_before[0], os.getloadavg()[0]],
        "load_average_1_5_15": {"before": list(load_before), "after": list(os.getloadavg())},
        "seconds": round(time.perf_counter() - started, 1),
        "attributes": results,
    }


def _interval(values: Sequence[float], digits: int = 2, sign: bool = False) -> str:
    form = f"{{:{'+' if sign else ''}.{digits}f}}"
    return f"[{form.format(values[0])}, {form.format(values[1])}]"


def row_label(attribute: str, scope: Scope) -> str:
    """A result row's name: the attribute, marked when only the reply was steered."""
    return attribute if scope == "all" else f"{attribute}, reply only"


def parse_scopes(text: str) -> list[Scope]:
    """``all,reply`` -> the scopes, in that order; an unknown one ends the run."""
    from roleplay.control.config import SCOPES

    chosen = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [part for part in chosen if part not in SCOPES]
    if unknown or not chosen:
        raise SystemExit(f"--scopes {text!r}: use one or more of {', '.join(SCOPES)}")
    return [scope for scope in SCOPES if scope in chosen]


def selected_attributes(names: str | None) -> list[str]:
    """The bundled attributes named in ``--attributes a,b`` (all when none are named); an
    unknown name ends the run with the list of known ones."""
    from roleplay.control.attributes import bundled_attributes_dir, load_attributes

    known = sorted(load_attributes([bundled_attributes_dir()]))
    chosen = [a.strip() for a in names.split(",") if a.strip()] if names else known
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise SystemExit(f"unknown attribute(s): {', '.join(unknown)} (known: {known})")
    return chosen


def applied_strengths(attribute: str, strength: float) -> dict[str, float]:
    """The strengths the controller applies for +-``strength``: each clipped to the
    attribute's own fluency bound for that direction (``max_strength`` in its file)."""
    from roleplay.control.attributes import bundled_attributes_dir, fluency_bounds, load_attributes
    from roleplay.control.config import load_config
    from roleplay.control.strengths import strength_bound

    bounds = fluency_bounds(load_attributes([bundled_attributes_dir()]))
    ceiling = load_config().max_strength
    return {
        sign: value * min(abs(strength), strength_bound(attribute, value, ceiling, bounds))
        for sign, value in (("plus", 1.0), ("minus", -1.0))
    }


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's block from this script's JSON result."""
    load = payload["load_average"]
    calibration = payload.get("calibration", CALIBRATION)
    attributes: dict[str, Any] = payload["attributes"]
    lines = [
        f"Machine: {machine_line(payload)}. Model {payload['model']} on {payload['backend']} "
        f"({payload['threads']} thread{'s' if payload['threads'] != 1 else ''}, "
        f"{payload['method'].replace('_', ' ')}); "
        f"{payload['date']}; load {load[0]:.1f} -> {load[1]:.1f}; {payload['seconds']:.0f} s; "
        f"`{payload['command']}`.",
        "",
        f"Strength +-{payload['strength']:g} (the bound); {payload['prompts']} evaluation "
        f"prompts ({payload.get('prompts_file', prompts_file('evaluation'))}) x seeds "
        f"{payload['seeds']} = n {payload['n_pairs']} pairs per comparison, "
        f"{payload['tokens']} tokens at temperature {payload['temperature']}. Calibration used "
        f"other prompts ({calibration['prompts']}) and seed {calibration['seed']} "
        f"({calibration['script']}). Brackets: 95 % paired bootstrap over (prompt, seed); "
        "braces: cluster bootstrap over prompts. Shift = score(+s) - score(-s). Word lists: "
        "hand-written and unvalidated (no word shared with the pairs or markers.yaml), a weak "
        "scorer. Unsteered perplexity "
        f"{payload['baseline_perplexity']:.2f}, distinct-2 {payload['baseline_distinct2']:.2f}.",
        "",
        "| attribute | scorer | n | score -s / 0 / +s | shift | 95 % paired | by prompt |",
        "|---|---|---|---|---|---|---|",
    ]
    for attribute, row in attributes.items():
        for name, score in row["scores"].items():
            lines.append(
                f"| {attribute} | {SCORER_LABELS.get(name, name)} | {row['n_pairs']} | "
                f"{score['minus']:+.3f} / {score['zero']:+.3f} / {score['plus']:+.3f} | "
                f"**{score['shift']:+.3f}** | {_interval(score['shift_95'], 3, sign=True)} | "
                f"{{{_interval(score['shift_95_cluster_prompts'], 3, sign=True)[1:-1]}}} |"
            )
    lines += [
        "",
        "Fluency: perplexity of steered replies under the unsteered model, relative to the "
        "unsteered replies to the same prompts and seeds (target: at most 1.2x).",
        "",
        "| attribute | n | ppl ratio -s | ppl ratio +s | distinct-2 -s / +s |",
        "|---|---|---|---|---|",
    ]
    over = []
    for attribute, row in attributes.items():
        lines.append(
            f"| {attribute} | {row['n_pairs']} | "
            f"{row['ppl_ratio_minus']:.2f} {_interval(row['ppl_ratio_minus_95'])} | "
            f"{row['ppl_ratio_plus']:.2f} {_interval(row['ppl_ratio_plus_95'])} | "
            f"{row['distinct2_minus']:.2f} / {row['distinct2_plus']:.2f} |"
        )
        over += [
            f"{attribute} {label}s ({row[f'ppl_ratio_{sign}']:.2f})"
            for sign, label in (("minus", "-"), ("plus", "+"))
            if row[f"ppl_ratio_{sign}"] > 1.2
        ]
    clipped = [
        f"{attribute} {value:+g}"
        for attribute, row in attributes.items()
        for sign, value in row.get("applied", {}).items()
        if abs(value) < payload["strength"]
    ]
    if clipped:
        lines += [
            "",
            "Clipped to the attribute's own fluency bound (benchmarks/steering_fluency.py, "
            "calibration prompts): " + ", ".join(clipped) + ".",
        ]
    lines += ["", "Above 1.2x: " + (", ".join(over) if over else "none") + "."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--attributes", default=None, help="comma-separated (default: all)")
    parser.add_argument(
        "--strength", type=float, default=None, help="default: steering.yaml's max_strength"
    )
    parser.add_argument(
        "--seeds", type=int, default=None, help="seeds per prompt (default: the set's, 3 or 6)"
    )
    parser.add_argument(
        "--prompt-set",
        choices=sorted(PROMPT_SETS),
        default="evaluation",
        help="evaluation (benchmarks/data/steering_eval_prompts.yaml, the default), holdout "
        "(steering_holdout_prompts.yaml), third (steering_third_prompts.yaml), fourth "
        "(steering_fourth_prompts.yaml) or fifth (steering_fifth_prompts.yaml), each "
        "written after the one before had been read",
    )
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="4 prompts x 2 seeds")
    parser.add_argument(
        "--scopes",
        default="all",
        help="the tokens steered, comma-separated: all (every token, the default), reply "
        "(only the reply's); both give side-by-side rows",
    )
    arguments = parser.parse_args(argv)
    arguments.scopes = parse_scopes(arguments.scopes)
    arguments.given = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("ROLEPLAY_HOME", tempfile.mkdtemp(prefix="bench-steer-"))
    payload = run(arguments)
    name = "steering_llama_cpp" if arguments.scopes == ["all"] else "steering_llama_cpp_scopes"
    if arguments.prompt_set != "evaluation":
        name += f"_{arguments.prompt_set}"
    path = write_result(name, payload)
    sys.stdout.write(markdown(json.loads(path.read_text())))  # what was written, machine too
    print(f"written to {path}")


if __name__ == "__main__":
    main()
