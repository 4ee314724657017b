"""Which cards a change of the attributes' fluency bounds steers differently (issue 17).

A bound changes what a card is steered at only where the card's trait reaches it, and how
far depends on the rule (steering.yaml ``attribute_bounds_on``) and on the combined bound's
scaling, which depends on the model's vectors. So the cards a new set of bounds touches are
computed here from the controller itself, on the default model, with no text generated: for
each card, its strengths as steered at each steering layer (``describe()["steering"]
["steered"]``) with the attribute files of a git revision (``--before``) and with the
checkout's, under each rule. A fidelity or drift figure measured before the change describes
the shipped controller only for the cards this lists as unchanged.

    python -m benchmarks.card_strengths --before REV
        [--card-sets evaluation,confirmation,bundled] [--rules requested,steered]

Writes ``benchmarks/out/card_strengths.json`` and prints, per rule, the cards that change
(a trait moved by more than 0.005 at some layer).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from benchmarks.common import header, scratch_home, write_result
from roleplay.control.config import BOUNDS_ON as RULES
from roleplay.control.config import BoundsOn

ATTRIBUTES = Path("roleplay/control/data/attributes")
# Below this a difference is the rounding of describe() (4 decimals), not a change.
TOLERANCE = 0.005


def attribute_files_at(revision: str, target: Path) -> list[str]:
    """Write the bundled attribute files of git ``revision`` into ``target``; their names."""
    found = subprocess.run(
        ["git", "ls-tree", "--name-only", f"{revision}:{ATTRIBUTES}"],
        check=False,
        capture_output=True,
        text=True,
    )
    if found.returncode != 0:
        raise SystemExit(
            f"--before {revision}: no {ATTRIBUTES} at that revision of this checkout "
            f"({found.stderr.strip() or 'git failed'})"
        )
    listing = found.stdout.split()
    names = [name for name in listing if name.endswith(".yaml")]
    target.mkdir(parents=True, exist_ok=True)
    for name in names:
        text = subprocess.run(
            ["git", "show", f"{revision}:{ATTRIBUTES / name}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        (target / name).write_text(text, encoding="utf-8")
    return names


def steered(engine: Any, card: Any, rule: BoundsOn) -> dict[str, dict[str, float]]:
    """The card's strengths as steered, per layer, under ``rule``."""
    from roleplay.control.controller import Controller

    controller = Controller.for_card(engine, card, attribute_bounds_on=rule)
    return dict(controller.describe()["steering"]["steered"])


def changes(
    before: Mapping[str, Mapping[str, float]], after: Mapping[str, Mapping[str, float]]
) -> dict[str, dict[str, list[float]]]:
    """Per trait, the layers' [before, after] where a trait moved by more than TOLERANCE."""
    moved: dict[str, dict[str, list[float]]] = {}
    for layer in sorted(set(before) | set(after), key=int):
        old, new = before.get(layer, {}), after.get(layer, {})
        for trait in sorted(set(old) | set(new)):
            a, b = float(old.get(trait, 0.0)), float(new.get(trait, 0.0))
            if abs(a - b) > TOLERANCE:
                moved.setdefault(trait, {})[layer] = [a, b]
    return moved


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cards import load_card
    from roleplay.control.attributes import user_attributes_dir
    from roleplay.evaluation.characters import card_set_paths

    load_before = os.getloadavg()
    asked = [rule for rule in arguments.rules.split(",") if rule]
    unknown = sorted(set(asked) - set(RULES))
    if unknown:
        raise SystemExit(f"--rules: unknown rule(s) {unknown}; choose from {', '.join(RULES)}")
    rules = [rule for rule in RULES if rule in asked]
    engine = load_engine(BackendOptions(backend="llama.cpp", threads=arguments.threads))
    cards = {
        card_set: [load_card(path) for path in card_set_paths(card_set)]
        for card_set in arguments.card_sets.split(",")
        if card_set
    }
    readings: dict[str, dict[str, Any]] = {"after": {}, "before": {}}
    for when in ("after", "before"):
        if when == "before":
            # User attribute files override the bundled ones (attributes.load_attributes).
            attribute_files_at(arguments.before, user_attributes_dir())
        for card_set, loaded in cards.items():
            for card in loaded:
                readings[when][card.name] = {
                    "set": card_set,
                    **{rule: steered(engine, card, rule) for rule in rules},
                }
    by_rule = {
        rule: {
            name: moved
            for name in readings["after"]
            if (moved := changes(readings["before"][name][rule], readings["after"][name][rule]))
        }
        for rule in rules
    }
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "load_average": [load_before[0], os.getloadavg()[0]],
        "model": engine.model_id,
        "before": arguments.before,
        "rules": rules,
        "card_sets": list(cards),
        "readings": readings,
        "changed": by_rule,
    }


def _trait(moved: Mapping[str, list[float]]) -> str:
    pairs = {f"{a:+.2f} -> {b:+.2f}" for a, b in moved.values()}
    if len(pairs) == 1:
        return next(iter(pairs))
    return "; ".join(f"{a:+.2f} -> {b:+.2f} (layer {layer})" for layer, (a, b) in moved.items())


def markdown(payload: Mapping[str, Any]) -> str:
    total = len(payload["readings"]["after"])
    lines = [
        header(dict(payload)),
        "",
        f"Model {payload['model']}; attribute files of `{payload['before']}` -> this "
        f"checkout's; {total} cards "
        f"({', '.join(payload['card_sets'])}); a trait counts as changed where its strength as "
        f"steered moved by more than {TOLERANCE} at some steering layer.",
        "",
        "| rule | cards changed | what changed |",
        "|---|---|---|",
    ]
    for rule in payload["rules"]:
        changed = payload["changed"][rule]
        described = "; ".join(
            f"{name} ({', '.join(f'{trait} {_trait(moved)}' for trait, moved in traits.items())})"
            for name, traits in changed.items()
        )
        lines.append(f"| {rule} | {len(changed)} of {total} | {described or '-'} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", required=True, help="git revision of the earlier bounds")
    parser.add_argument("--card-sets", default="evaluation,confirmation")
    parser.add_argument("--rules", default=",".join(RULES))
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args(argv)
    with scratch_home():
        payload = run(arguments)
    path = write_result("card_strengths", payload)
    print(markdown(json.loads(path.read_text(encoding="utf-8"))))


if __name__ == "__main__":
    main(sys.argv[1:])
