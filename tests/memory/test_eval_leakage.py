"""The recall benchmark must not be measured on the emotion scorer's training data.

The scorer is fitted on ``emotion_calibration.yaml`` and built from ``emotion_prototypes.yaml``;
``benchmarks/data/memory_eval.yaml`` (queries, memories, mood messages, distractor feelings)
measures it. Exact copies are caught by ``test_data_files``; these tests also catch near
copies: any shared word 5-gram (lowercased, punctuation turned into spaces, so "sister's"
still shares "the days until my sister") and any pair whose MiniLM vectors, from the encoder
the memory itself uses, have a cosine above ``COSINE_LIMIT``.

The issue asked for 0.9. The clear paraphrases that were in the data scored 0.84-0.88 ("My
dog had to be put down today, the house feels empty." / "My dog died this morning and the
house feels so empty.": 0.865), so the limit is 0.8; after the clean-up the closest pair
scores about 0.72.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import yaml

from roleplay.memory.calibration import labelled_sentences
from roleplay.memory.data_files import PROTOTYPES_PATH, load_sentence_groups
from roleplay.memory.encoder import SentenceEncoder

EVAL_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "data" / "memory_eval.yaml"
NGRAM = 5
COSINE_LIMIT = 0.8

# (where, text): "where" says which file and field a text comes from, for the failure message.
Labelled = tuple[str, str]


def evaluation_texts() -> list[Labelled]:
    data = yaml.safe_load(EVAL_PATH.read_text(encoding="utf-8"))
    texts: list[Labelled] = []
    for character in data["characters"]:
        for topic in character["topics"]:
            texts.append((f"eval query ({character['name']})", topic["query"]))
            texts += [
                (f"eval memory ({character['name']}, {emotion})", text)
                for emotion, text in topic["memories"].items()
            ]
    for split, groups in data["moods"].items():
        for emotion, moods in groups.items():
            texts += [(f"eval mood ({split}, {emotion})", text) for text in moods]
    texts += [("eval distractor feeling", text) for text in data["distractors"]["feelings"]]
    return texts


def training_texts() -> list[Labelled]:
    sentences, labels = labelled_sentences()
    texts = [
        (f"calibration ({label})", text) for text, label in zip(sentences, labels, strict=True)
    ]
    prototypes = load_sentence_groups(PROTOTYPES_PATH, allow_neutral=False)
    for emotion, group in prototypes.items():
        texts += [(f"prototype ({emotion})", text) for text in group]
    return texts


def words(text: str) -> list[str]:
    """Lowercased words with punctuation turned into spaces ("I'd" -> "i", "d")."""
    return re.sub(r"[^\w\s]", " ", text.lower()).split()


def ngrams(text: str, n: int = NGRAM) -> set[tuple[str, ...]]:
    tokens = words(text)
    return {tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)}


def shared_ngram_pairs(
    evaluation: list[Labelled], training: list[Labelled]
) -> Iterator[tuple[Labelled, Labelled, list[str]]]:
    """Every (evaluation, training) pair that shares at least one word n-gram."""
    index: dict[tuple[str, ...], list[int]] = {}
    for position, (_, text) in enumerate(training):
        for gram in ngrams(text):
            index.setdefault(gram, []).append(position)
    for item in evaluation:
        shared: dict[int, set[str]] = {}
        for gram in ngrams(item[1]):
            for position in index.get(gram, []):
                shared.setdefault(position, set()).add(" ".join(gram))
        for position, grams in sorted(shared.items()):
            yield item, training[position], sorted(grams)


def _report(lines: list[str]) -> str:
    heading = f"{len(lines)} (evaluation, training) pair(s) overlap the scorer's training data:"
    return "\n".join([heading, *lines])


def test_ngram_check_catches_the_reported_overlaps() -> None:
    """The pairs named in the issue (eval lines 213 and 267 against the old calibration set)."""
    evaluation = [
        ("eval", "My mentor has always been honest with me, I'd follow her advice anywhere."),
        ("eval", "I'm counting down the days until my sister's visit."),
    ]
    training = [
        ("calibration", "Honestly, I'd follow her advice anywhere, she's never steered me wrong."),
        ("calibration", "All through December I counted the days until my sister came home."),
        ("unrelated", "The library closes at six on weekdays."),
    ]
    found = [(e[1], t[1]) for e, t, _ in shared_ngram_pairs(evaluation, training)]
    assert found == [(evaluation[0][1], training[0][1]), (evaluation[1][1], training[1][1])]


def test_no_evaluation_text_shares_a_5gram_with_training_data() -> None:
    lines = [
        f"  {e_where}: {e_text!r}\n    ~ {t_where}: {t_text!r}\n    shared: {grams}"
        for (e_where, e_text), (t_where, t_text), grams in shared_ngram_pairs(
            evaluation_texts(), training_texts()
        )
    ]
    assert not lines, _report(lines)


@pytest.fixture(scope="module")
def encoder() -> SentenceEncoder:
    from roleplay.memory.encoder import get_encoder

    return get_encoder()


def cosines(encoder: SentenceEncoder, left: list[str], right: list[str]) -> np.ndarray:
    return np.asarray(encoder.encode(left) @ encoder.encode(right).T)


def test_embedding_check_catches_a_known_paraphrase(encoder: SentenceEncoder) -> None:
    """A pair that was in the data (eval test mood / old calibration sentence)."""
    similarity = cosines(
        encoder,
        ["I'm in such a great mood, the sun is shining and I feel fantastic!"],
        ["Honestly I'm in such a good mood, the sun is out and life is sweet."],
    )
    assert similarity[0, 0] > COSINE_LIMIT


def test_no_evaluation_text_is_a_near_duplicate_of_training_data(encoder: SentenceEncoder) -> None:
    evaluation, training = evaluation_texts(), training_texts()
    similarity = cosines(encoder, [t for _, t in evaluation], [t for _, t in training])
    rows, columns = np.nonzero(similarity > COSINE_LIMIT)
    lines = [
        f"  cosine {similarity[i, j]:.3f}  {evaluation[i][0]}: {evaluation[i][1]!r}\n"
        f"    ~ {training[j][0]}: {training[j][1]!r}"
        for i, j in sorted(zip(rows, columns, strict=True), key=lambda ij: -similarity[ij])
    ]
    assert not lines, _report(lines)
