"""Multi-character scenes: repetition across speakers and topic kept, before and after.

Plays the same scenes (casts x topics, fixed seeds) on the default backend (llama.cpp, the
embedded model) under three conditions, interleaved scene by scene:

- ``before``: the scene as it was (no scene prompt, no echo guard);
- ``+ scene prompt``: each character is told who else is there, the topic, and never to
  repeat another's line (``SceneRunner(scene_prompt=True)``);
- ``+ scene prompt + echo guard``: a line repeating more than half of its word 4-grams from
  the others' earlier lines is generated again (``data/dialogue.yaml``, ``echo_guard``).

Per scene: the echo rate (share of all word 4-grams that repeat an earlier line by another
speaker, ``roleplay.dialogue.repetition.scene_echo_rate``), the share of lines that are
mostly copies (overlap > 0.5), the share of lines naming the topic, words per line and the
guard's retries. Intervals: 95 % bootstrap over scenes, and for the differences against
``before`` a paired bootstrap (the same scenes and seeds on both sides).

    python -m benchmarks.scene_repetition [--turns 6] [--quick]

Writes benchmarks/out/scene_repetition.json; ``markdown()`` renders BENCHMARKS.md's table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import Progress

console = Console()

CASTS = (("mira", "sable", "pip"), ("hana", "elias", "pip"), ("sable", "hana"))
TOPICS = (
    "A stowaway",
    "The engine room is flooding",
    "A letter from home",
    "A stranger at the market",
)
CONDITIONS = {
    "before": {"scene_prompt": False, "echo_guard": False},
    "+ scene prompt": {"scene_prompt": True, "echo_guard": False},
    "+ scene prompt + echo guard": {"scene_prompt": True, "echo_guard": True},
}
COPY_THRESHOLD = 0.5


def scene_measures(lines: list[tuple[str, str]], topic: str) -> dict[str, float]:
    from roleplay.dialogue.repetition import echo_overlap, mentions_topic, scene_echo_rate, words

    copies = [
        echo_overlap(text, [t for s, t in lines[:i] if s != speaker]) > COPY_THRESHOLD
        for i, (speaker, text) in enumerate(lines)
    ]
    return {
        "echo_rate": scene_echo_rate(lines),
        "copied_lines": float(np.mean(copies)) if lines else 0.0,
        "topic_lines": float(np.mean([mentions_topic(t, topic) for _, t in lines]))
        if lines
        else 0.0,
        "words_per_line": float(np.mean([len(words(t)) for _, t in lines])) if lines else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="2 scenes, 3 turns")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="scene-repetition-") as home:
        os.environ["ROLEPLAY_HOME"] = home
        run(arguments.turns if not arguments.quick else 3, quick=arguments.quick)


def run(turns: int, *, quick: bool) -> None:
    from benchmarks.common import load_average, write_result
    from roleplay.application import BackendOptions, load_engine
    from roleplay.cards.registry import resolve_card
    from roleplay.dialogue.scene import LineRetried, SceneRunner, SceneSpec, UtteranceDone
    from roleplay.dialogue.settings import load_dialogue_settings

    scenes = [(cast, topic) for cast in CASTS for topic in TOPICS]
    if quick:
        scenes = scenes[:2]
    load_before = load_average()
    engine = load_engine(BackendOptions())
    generation = load_dialogue_settings().generation_settings()
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in CONDITIONS}
    started = time.perf_counter()
    with Progress(console=console) as progress:
        task = progress.add_task("scenes", total=len(scenes) * len(CONDITIONS))
        for index, (cast, topic) in enumerate(scenes):
            paths = tuple(resolve_card(name) for name in cast)
            spec = SceneSpec(f"scene-{index:05d}", paths, topic, turns, seed=100 + index)
            for condition, switches in CONDITIONS.items():
                runner = SceneRunner(engine, spec, generation=generation, **switches)
                lines: list[tuple[str, str]] = []
                retries = 0
                for event in runner.run():
                    if isinstance(event, UtteranceDone):
                        lines.append((event.utterance.speaker, event.utterance.text))
                    elif isinstance(event, LineRetried):
                        retries += 1
                measures = scene_measures(lines, topic)
                results[condition].append(
                    {
                        "cast": list(cast),
                        "topic": topic,
                        "seed": spec.seed,
                        "lines": [{"speaker": s, "text": t} for s, t in lines],
                        "retries": retries,
                        **measures,
                    }
                )
                progress.advance(task)
    payload = {
        "backend": "llama.cpp",
        "model": engine.model_id,
        "turns": turns,
        "scenes": len(scenes),
        "copy_threshold": COPY_THRESHOLD,
        "echo_guard": load_dialogue_settings().echo_guard.model_dump(),
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": {"before": load_before, "after": load_average()},
        "conditions": results,
    }
    path = write_result("scene_repetition", payload)
    console.print(markdown(payload))
    console.print(f"[dim]wrote {path}[/]")


def _interval(values: list[float], draws: int = 4000, seed: int = 0) -> tuple[float, float]:
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(draws, data.size))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def _cell(values: list[float], scale: float = 100.0, digits: int = 0) -> str:
    low, high = _interval(values)
    mean = float(np.mean(values))
    return f"{mean * scale:.{digits}f} [{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's scene table from this script's JSON result."""
    from benchmarks.common import header

    conditions: dict[str, list[dict[str, Any]]] = payload["conditions"]
    before = conditions["before"]
    lines = [
        header(
            payload,
            f"{payload['scenes']} scenes ({len(CASTS)} casts x {len(TOPICS)} topics, one seed "
            f"each) of {payload['turns']} lines, {payload['backend']} on {payload['model']}; "
            "mean per scene with a 95 % bootstrap over scenes; the change against `before` is "
            "a paired bootstrap over the same scenes and seeds.",
        ),
        "",
        "| condition | echo rate % | change | lines mostly copied % | lines naming the topic % "
        "| change | words per line | retries per scene |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, scenes in conditions.items():
        echo = [scene["echo_rate"] for scene in scenes]
        topic = [scene["topic_lines"] for scene in scenes]
        if name == "before":
            echo_change = topic_change = "-"
        else:
            echo_change = _cell([a - b["echo_rate"] for a, b in zip(echo, before, strict=True)])
            topic_change = _cell([a - b["topic_lines"] for a, b in zip(topic, before, strict=True)])
        lines.append(
            f"| {name} | {_cell(echo)} | {echo_change} "
            f"| {_cell([s['copied_lines'] for s in scenes])} | {_cell(topic)} | {topic_change} "
            f"| {_cell([s['words_per_line'] for s in scenes], 1.0, 1)} "
            f"| {_cell([float(s['retries']) for s in scenes], 1.0, 2)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
