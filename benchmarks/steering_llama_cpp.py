"""Does steering still move replies on the default path (llama.cpp control vectors)?

The embedded model on the llama.cpp backend, the controller with ``sentiment`` at +1 and at
-1 (no card, so nothing else is steered), the same prompts and seeds on both sides; replies
scored with VADER's compound score (a lexicon that did not help build the vectors). Reports
the mean difference (+1 minus -1) with a 95 % bootstrap interval paired over prompt x seed.

    python -m benchmarks.steering_llama_cpp [--seeds 4] [--threads 2]

Writes benchmarks/out/steering_llama_cpp.json.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
from typing import Any

from benchmarks.common import write_result

# Neutral prompts, none of them among the contrastive pairs' questions.
PROMPTS = (
    "Tell me about the town you grew up in.",
    "What did you do this morning?",
    "Describe the ship's kitchen.",
    "What do you think about the new recruits?",
    "How was the journey here?",
    "What is the weather like outside?",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    arguments = parser.parse_args()
    os.environ.setdefault("ROLEPLAY_HOME", tempfile.mkdtemp(prefix="bench-steer-"))
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from roleplay.application import BackendOptions, load_engine
    from roleplay.control.controller import Controller
    from roleplay.engine.base import ChatMessage, GenerationSettings

    engine = load_engine(BackendOptions(backend="llama.cpp", threads=arguments.threads))
    analyzer = SentimentIntensityAnalyzer()
    scores: dict[float, list[float]] = {}
    texts: dict[float, list[str]] = {}
    for strength in (1.0, -1.0):
        controller = Controller.for_card(engine, None, {"sentiment": strength})
        scores[strength], texts[strength] = [], []
        for prompt in PROMPTS:
            rendered = engine.render_chat(
                [
                    ChatMessage("system", "You are a character in a role-play. Stay in character."),
                    ChatMessage("user", prompt),
                ]
            )
            for seed in range(arguments.seeds):
                settings = GenerationSettings(max_new_tokens=48, temperature=0.7, seed=seed)
                with controller.steering():
                    text = "".join(e.text for e in engine.stream(rendered, settings))
                texts[strength].append(text)
                scores[strength].append(analyzer.polarity_scores(text)["compound"])
    differences = [a - b for a, b in zip(scores[1.0], scores[-1.0], strict=True)]
    rng = random.Random(0)
    draws = sorted(
        statistics.mean(rng.choice(differences) for _ in differences) for _ in range(5000)
    )
    result: dict[str, Any] = {
        "model": engine.model_id,
        "method": "control_vectors",
        "n_pairs": len(differences),
        "mean_compound_plus": statistics.mean(scores[1.0]),
        "mean_compound_minus": statistics.mean(scores[-1.0]),
        "difference": statistics.mean(differences),
        "difference_95": [draws[124], draws[4874]],
        "examples": {"+1": texts[1.0][:2], "-1": texts[-1.0][:2]},
    }
    print(
        f"sentiment +1 vs -1 on {engine.model_id} (control vectors), n = {len(differences)} "
        f"prompt x seed pairs: VADER compound {result['mean_compound_plus']:+.3f} vs "
        f"{result['mean_compound_minus']:+.3f}, difference {result['difference']:+.3f} "
        f"[{draws[124]:+.3f}, {draws[4874]:+.3f}]"
    )
    print(f"written to {write_result('steering_llama_cpp', result)}")


if __name__ == "__main__":
    main()
