"""The steering benchmark's word-list scorer did not help build the vectors: no scorer word
(case-folded, nor its naive stem) occurs in that attribute's contrastive pairs or in the old
marker scorer's list for it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from roleplay.control.attributes import bundled_attributes_dir, load_attributes
from roleplay.resources import package_path

ROOT = Path(__file__).resolve().parents[2]
LEXICON = ROOT / "benchmarks" / "data" / "steering_scorer_lexicon.yaml"
MARKERS = package_path("roleplay.control", "data") / "eval" / "markers.yaml"
SUFFIXES = ("ing", "ed", "ly", "s")


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def _stem(word: str) -> str:
    for suffix in SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def _forms(texts: list[str]) -> set[str]:
    words = {w for text in texts for w in re.findall(r"[a-z']+", text.casefold())}
    return words | {_stem(w) for w in words}


def _lexicon() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = _yaml(LEXICON)
    return data


def _clashes(attribute: str, words: list[str]) -> list[str]:
    spec = load_attributes([bundled_attributes_dir()])[attribute]
    texts = [t for pair in spec.pairs for t in (pair.question, pair.positive, pair.negative)]
    markers = _yaml(MARKERS).get(attribute, {})
    texts += [*markers.get("positive", []), *markers.get("negative", [])]
    used = _forms(texts)
    return [w for w in words if w.casefold() in used or _stem(w.casefold()) in used]


def test_every_steerable_attribute_but_sentiment_has_a_word_list() -> None:
    attributes = set(load_attributes([bundled_attributes_dir()]))
    assert set(_lexicon()) == attributes - {"sentiment"}  # sentiment: VADER


@pytest.mark.parametrize("attribute", sorted(_lexicon()))
def test_no_scorer_word_built_the_vectors_or_is_a_marker(attribute: str) -> None:
    poles = _lexicon()[attribute]
    words = [*poles["positive"], *poles["negative"]]
    assert len(poles["positive"]) >= 15 and len(poles["negative"]) >= 15
    assert all(re.fullmatch(r"[a-z']+", w) for w in words), "single lowercase words only"
    assert not _clashes(attribute, words)
    assert not {_stem(w) for w in poles["positive"]} & {_stem(w) for w in poles["negative"]}


def test_the_check_would_catch_a_shared_word() -> None:
    # "friends" is in extraversion's pairs, "excited" in its marker list, "talking" stems to
    # a pair word ("talk").
    assert _clashes("extraversion", ["friends", "excited", "talking", "hermit"]) == [
        "friends",
        "excited",
        "talking",
    ]
