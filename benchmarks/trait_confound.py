"""Does a trait's measured score follow its own card score or another trait's? (issue 17)

Reads ``persona_drift`` results (one per card set; their characters are pooled) or a
``persona_fidelity`` result (every set it holds) and, per
condition and checkpoint, correlates one measured trait over the characters with the cards'
own score of that trait and with the cards' score of another trait, with the difference of
the two correlations' magnitudes (positive: it follows the other trait more). On the default
model measured neuroticism follows the cards' agreeableness (BENCHMARKS.md, "Neuroticism
reads low agreeableness"); this is the script behind that section's tables.

95 % percentile bootstrap over characters (the same resampled characters for both
correlations of a row, as in ``benchmarks/steering_crosstalk.py``); items are not resampled
(the JSON keeps per-character estimates only).

    python -m benchmarks.trait_confound benchmarks/out/persona_drift.json \\
        benchmarks/out/persona_drift_confirmation.json
    python -m benchmarks.trait_confound benchmarks/out/persona_fidelity.json  # turn 0
    python -m benchmarks.trait_confound --measured openness --against extraversion A.json B.json

Output: the table on stdout and ``benchmarks/out/trait_confound.json`` (``--name`` to keep
several).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # runnable as a script as well as with -m
    sys.path.insert(0, str(ROOT))

from benchmarks.common import OUT_DIR  # noqa: E402
from benchmarks.persona_drift_targets import TRAITS  # noqa: E402
from benchmarks.steering_crosstalk import (  # noqa: E402
    RESAMPLES,
    Interval,
    Run,
    _correlations,
    _interval,
)


@dataclass(frozen=True)
class ConfoundRow:
    condition: str
    turns: int
    characters: int
    own: float  # r(measured trait, cards' same trait)
    own_interval: Interval
    other: float  # r(measured trait, cards' other trait)
    other_interval: Interval
    difference: float  # |other| - |own|
    difference_interval: Interval


def load_runs(paths: list[Path]) -> dict[tuple[str, int], Run]:
    """(condition, turns) -> the characters of every file at that checkpoint; a character
    met twice (two files of one set) or a file that is not a drift result exits 2."""
    estimates: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    cards: dict[tuple[str, int], dict[str, dict[str, float]]] = {}
    for path in paths:
        try:
            payload = json.loads(path.read_text("utf-8"))
            # a persona_drift result holds one report, a persona_fidelity one a report per set
            reports = payload["sets"].values() if "sets" in payload else [payload["report"]]
            results = [result for report in reports for result in report["results"]]
            rows = [
                (str(r["condition"]), int(r["turns"]), c["name"], c["traits"])
                for r in results
                for c in r["characters"]
            ]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            print(
                f"error: {path}: not a persona_drift or persona_fidelity result ({error})",
                file=sys.stderr,
            )
            sys.exit(2)
        for condition, turns, name, traits in rows:
            key = (condition, turns)
            if name in estimates.setdefault(key, {}):
                print(
                    f"error: {path}: {name} is already in another file at {condition}, "
                    f"turn {turns} (give one result per card set)",
                    file=sys.stderr,
                )
                sys.exit(2)
            estimates[key][name] = {t: float(traits[t]["estimate"]) for t in TRAITS}
            cards.setdefault(key, {})[name] = {t: float(traits[t]["card"]) for t in TRAITS}
    return {
        key: Run(f"{key[0]}, turn {key[1]}", None, estimates[key], cards[key], {})
        for key in sorted(estimates)
    }


def confound_row(
    key: tuple[str, int], run: Run, measured: str, against: str, resamples: int, seed: int = 0
) -> ConfoundRow:
    import numpy as np

    names = sorted(run.estimates)
    picks = np.random.default_rng(seed).integers(0, len(names), size=(resamples, len(names)))
    own, own_boot = _correlations(run, names, picks, measured, measured)
    other, other_boot = _correlations(run, names, picks, measured, against)
    return ConfoundRow(
        condition=key[0],
        turns=key[1],
        characters=len(names),
        own=round(own, 3),
        own_interval=_interval(own_boot),
        other=round(other, 3),
        other_interval=_interval(other_boot),
        difference=round(abs(other) - abs(own), 3),
        difference_interval=_interval(np.abs(other_boot) - np.abs(own_boot)),
    )


def _cell(value: float, interval: Interval) -> str:
    return f"{value:+.2f} [{interval[0]:+.2f}, {interval[1]:+.2f}]"


def markdown(rows: list[ConfoundRow], measured: str, against: str) -> str:
    lines = [
        f"| condition | turns | characters | r(measured {measured}, card {measured}) | "
        f"r(measured {measured}, card {against}) | abs difference |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.condition} | {row.turns} | {row.characters} | "
            f"{_cell(row.own, row.own_interval)} | {_cell(row.other, row.other_interval)} | "
            f"{_cell(row.difference, row.difference_interval)} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument(
        "results", type=Path, nargs="+", help="persona_drift or persona_fidelity results"
    )
    parser.add_argument("--measured", default="neuroticism", choices=TRAITS)
    parser.add_argument("--against", default="agreeableness", choices=TRAITS)
    parser.add_argument("--resamples", type=int, default=RESAMPLES)
    parser.add_argument("--name", default="trait_confound", help="the output's file name")
    arguments = parser.parse_args(argv)
    if arguments.measured == arguments.against:
        parser.error("--measured and --against name the same trait")
    if arguments.resamples < 100:
        parser.error(f"--resamples {arguments.resamples}: use 100 or more")
    runs = load_runs(arguments.results)
    small = [run.label for run in runs.values() if len(run.estimates) < 3]
    if small:
        parser.error(f"fewer than 3 characters at {', '.join(small)}: no correlation")
    rows = [
        confound_row(key, run, arguments.measured, arguments.against, arguments.resamples)
        for key, run in runs.items()
    ]
    print(markdown(rows, arguments.measured, arguments.against), end="")
    payload: dict[str, Any] = {
        "results": [str(path) for path in arguments.results],
        "measured": arguments.measured,
        "against": arguments.against,
        "resamples": arguments.resamples,
        "rows": [asdict(row) for row in rows],
    }
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{Path(arguments.name).name}.json"
    path.write_text(json.dumps(payload, indent=2))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
