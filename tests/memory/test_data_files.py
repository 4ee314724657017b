"""The memory package's data files: well-formed, and kept apart from the evaluation set."""

from __future__ import annotations

from pathlib import Path

import yaml

from roleplay.cards.model import EMOTIONS
from roleplay.memory.calibration import labelled_sentences
from roleplay.memory.data_files import PROTOTYPES_PATH, load_sentence_groups
from roleplay.memory.settings import default_settings

EVAL_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "memory_eval.yaml"


def _normalised(text: str) -> str:
    return " ".join(text.lower().split())


def test_prototypes_cover_every_emotion() -> None:
    groups = load_sentence_groups(PROTOTYPES_PATH, allow_neutral=False)
    assert list(groups) == list(EMOTIONS)
    assert all(len(sentences) >= 5 for sentences in groups.values())


def test_calibration_set_is_labelled_and_balanced() -> None:
    texts, labels = labelled_sentences()
    assert set(labels) == {"neutral", *EMOTIONS}
    assert min(labels.count(label) for label in set(labels)) >= 15
    assert len(set(map(_normalised, texts))) == len(texts)


def test_evaluation_sentences_are_not_training_data() -> None:
    """The recall benchmark is honest only if the scorer never saw its sentences."""
    data = yaml.safe_load(EVAL_PATH.read_text(encoding="utf-8"))
    evaluation = {
        _normalised(text)
        for character in data["characters"]
        for topic in character["topics"]
        for text in [topic["query"], *topic["memories"].values()]
    }
    evaluation |= {
        _normalised(text)
        for split in data["moods"].values()
        for texts in split.values()
        for text in texts
    }
    texts, _ = labelled_sentences()
    prototypes = load_sentence_groups(PROTOTYPES_PATH, allow_neutral=False)
    training = {_normalised(t) for t in texts}
    training |= {_normalised(t) for group in prototypes.values() for t in group}
    assert not evaluation & training


def test_evaluation_splits_are_disjoint() -> None:
    data = yaml.safe_load(EVAL_PATH.read_text(encoding="utf-8"))
    dev = {_normalised(t) for texts in data["moods"]["dev"].values() for t in texts}
    test = {_normalised(t) for texts in data["moods"]["test"].values() for t in texts}
    assert not dev & test
    splits = {character["split"] for character in data["characters"]}
    assert splits == {"dev", "test"}


def test_defaults_load() -> None:
    settings = default_settings()
    assert settings.strategy in ("semantic", "c-a", "c-m", "s-c", "s-s")
    assert settings.candidates >= settings.weights.semantic_pool
    assert settings.max_text_chars < 1_000_000
