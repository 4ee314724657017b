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
mostly copies (overlap > 0.5), the share of lines naming the topic, the share that copy the
scene's own instructions (a word 4-gram of the topic note or the scene section that is not
just the topic's words: a small model says "The scene is about: ..." back), the share naming
the topic in their own words (naming it without copying the instructions), words per line
and the guard's retries. Intervals: 95 % bootstrap over scenes, and for the differences against
``before`` a paired bootstrap (the same scenes and seeds on both sides).

    python -m benchmarks.scene_repetition [--turns 6] [--quick]
    python -m benchmarks.scene_repetition --rescore   # the measures again, on the saved lines

Writes benchmarks/out/scene_repetition.json; ``markdown()`` renders BENCHMARKS.md's table.
"""

from __future__ import annotations

import argparse
import json
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


def instruction_ngrams(topic: str) -> set[tuple[str, ...]]:
    """Word 4-grams of what the scene prompt tells a character about the topic, leaving out
    those made only of the topic's own words (naming the topic is not copying)."""
    from roleplay.dialogue.repetition import ngrams, words
    from roleplay.prompting.builder import topic_note_text

    told = [
        topic_note_text(topic),
        f"The scene is about: {topic}. Keep to it.",  # templates/system.j2, "# The scene"
    ]
    topic_words = set(words(topic))
    grams: set[tuple[str, ...]] = set()
    for text in told:
        grams |= {gram for gram in ngrams(text, 4) if not set(gram) <= topic_words}
    return grams


def scene_measures(lines: list[tuple[str, str]], topic: str) -> dict[str, float]:
    from roleplay.dialogue.repetition import (
        echo_overlap,
        mentions_topic,
        ngrams,
        scene_echo_rate,
        words,
    )

    if not lines:
        return dict.fromkeys(
            ("echo_rate", "copied_lines", "topic_lines", "instruction_lines", "topic_own_lines"),
            0.0,
        ) | {"words_per_line": 0.0}
    copies = [
        echo_overlap(text, [t for s, t in lines[:i] if s != speaker]) > COPY_THRESHOLD
        for i, (speaker, text) in enumerate(lines)
    ]
    told = instruction_ngrams(topic)
    instructed = [bool(ngrams(text, 4) & told) for _, text in lines]
    naming = [mentions_topic(text, topic) for _, text in lines]
    return {
        "echo_rate": scene_echo_rate(lines),
        "copied_lines": float(np.mean(copies)),
        "topic_lines": float(np.mean(naming)),
        "instruction_lines": float(np.mean(instructed)),
        "topic_own_lines": float(
            np.mean([name and not told for name, told in zip(naming, instructed, strict=True)])
        ),
        "words_per_line": float(np.mean([len(words(t)) for _, t in lines])),
    }


def rescore() -> None:
    """The measures again on the lines a run saved (no generation): for a measure added
    after the run. The run's machine, date and load stay as they were."""
    from benchmarks.common import OUT_DIR
    from roleplay.atomic_files import replace_atomically

    path = OUT_DIR / "scene_repetition.json"
    payload = json.loads(path.read_text(encoding="utf-8"))
    for scenes in payload["conditions"].values():
        for scene in scenes:
            lines = [(line["speaker"], line["text"]) for line in scene["lines"]]
            scene.update(scene_measures(lines, scene["topic"]))
    replace_atomically(path, (json.dumps(payload, indent=2, ensure_ascii=False) + "\n").encode())
    console.print(markdown(payload))
    console.print(f"[dim]rescored {path}[/]")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--quick", action="store_true", help="2 scenes, 3 turns")
    parser.add_argument("--rescore", action="store_true", help="re-measure the saved lines")
    arguments = parser.parse_args()
    if arguments.rescore:
        rescore()
        return
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
        "| change | lines copying the instructions % | naming it in own words % | change "
        "| words per line | retries per scene |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def change(name: str, key: str) -> str:
        if name == "before":
            return "-"
        ours = [scene[key] for scene in conditions[name]]
        return _cell([a - b[key] for a, b in zip(ours, before, strict=True)])

    for name, scenes in conditions.items():
        own = [scene.get("topic_own_lines", float("nan")) for scene in scenes]
        copied = [scene.get("instruction_lines", float("nan")) for scene in scenes]
        has_own = "topic_own_lines" in scenes[0]
        lines.append(
            f"| {name} | {_cell([s['echo_rate'] for s in scenes])} | {change(name, 'echo_rate')} "
            f"| {_cell([s['copied_lines'] for s in scenes])} "
            f"| {_cell([s['topic_lines'] for s in scenes])} | {change(name, 'topic_lines')} "
            f"| {_cell(copied) if has_own else 'n/a'} | {_cell(own) if has_own else 'n/a'} "
            f"| {change(name, 'topic_own_lines') if has_own else 'n/a'} "
            f"| {_cell([s['words_per_line'] for s in scenes], 1.0, 1)} "
            f"| {_cell([float(s['retries']) for s in scenes], 1.0, 2)} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
