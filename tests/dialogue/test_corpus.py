"""Corpus files: topics, scene plans, JSONL records and resuming after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from roleplay.dialogue.annotate import Annotator
from roleplay.dialogue.corpus import (
    SCENES_FILE,
    UTTERANCES_FILE,
    CorpusWriter,
    plan_scenes,
    read_topics,
    utterance_records,
)
from roleplay.dialogue.scene import Utterance
from roleplay.dialogue.turns import Policy
from roleplay.errors import RoleplayError


def test_topics_skip_blanks_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "topics.txt"
    path.write_text("# festival ideas\n\nThe lantern festival\n  A storm  \n")
    assert read_topics(path) == ["The lantern festival", "A storm"]


@pytest.mark.parametrize("content", ["", "\n\n", "# only a comment\n"])
def test_an_empty_topics_file_is_an_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "topics.txt"
    path.write_text(content)
    with pytest.raises(RoleplayError, match="no topics"):
        read_topics(path)


def test_a_missing_topics_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RoleplayError, match="no such topics file"):
        read_topics(tmp_path / "nope.txt")


def test_scene_plans_rotate_speakers_topics_and_seeds(tmp_path: Path) -> None:
    a, b, c = (tmp_path / f"{n}.yaml" for n in "abc")
    plans = plan_scenes(
        [a, b, c], ["t1", "t2"], scenes=4, turns=6, policy=Policy.ROUND_ROBIN, seed=7
    )
    assert [p.scene_id for p in plans] == [
        "scene-00000",
        "scene-00001",
        "scene-00002",
        "scene-00003",
    ]
    assert [p.topic for p in plans] == ["t1", "t2", "t1", "t2"]
    assert [p.characters[0] for p in plans] == [a, b, c, a]
    assert [p.seed for p in plans] == [7, 1007, 2007, 3007]
    with pytest.raises(RoleplayError, match="--scenes must be at least 1"):
        plan_scenes([a, b], ["t"], scenes=0, turns=1, policy=Policy.ROUND_ROBIN, seed=0)


class _Scorer:
    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, texts: list[str]) -> list[float]:
        return [self.value] * len(texts)


class _EmotionScorer:
    def score(self, texts: list[str]) -> list[list[float]]:
        return [[0.1, 0.0, 0.7, 0.0, 0.0, 0.0, 0.2, 0.0] for _ in texts]


def test_records_carry_traits_emotion_and_toxicity_with_scorer_names() -> None:
    traits = {"openness": 0.6, "conscientiousness": 0.6, "extraversion": 0.15,
              "agreeableness": 0.1, "neuroticism": 0.15}  # fmt: skip
    utterances = [Utterance("scene-00000", 0, "Sable", "Leave.", traits)]
    annotator = Annotator(_EmotionScorer(), "proto", _Scorer(0.25), "alt-profanity-check")
    [record] = utterance_records(utterances, "A storm", annotator)
    assert record == {
        "scene_id": "scene-00000",
        "turn": 0,
        "speaker": "Sable",
        "text": "Leave.",
        "topic": "A storm",
        "traits": traits,
        "emotion": {
            "label": "fear",
            "scores": {
                "joy": 0.1,
                "trust": 0.0,
                "fear": 0.7,
                "surprise": 0.0,
                "sadness": 0.0,
                "disgust": 0.0,
                "anger": 0.2,
                "anticipation": 0.0,
            },
            "scorer": "proto",
        },
        "toxicity": {"score": 0.25, "scorer": "alt-profanity-check"},
    }
    [bare] = utterance_records(utterances, "A storm", Annotator())
    assert bare["emotion"] is None and bare["toxicity"] is None


def _scene(scene_id: str) -> dict[str, object]:
    return {"scene_id": scene_id, "topic": "t", "seed": 1, "model": "m"}


def test_resume_drops_unfinished_scenes_and_torn_lines(tmp_path: Path) -> None:
    writer = CorpusWriter.open(tmp_path / "corpus")
    writer.append_scene(_scene("scene-00000"), [{"scene_id": "scene-00000", "text": "a"}])
    folder = writer.folder
    # An interruption: one utterance of scene 1 written, its manifest line not, and a torn line.
    with (folder / UTTERANCES_FILE).open("a") as file:
        file.write(json.dumps({"scene_id": "scene-00001", "text": "b"}) + "\n")
        file.write('{"scene_id": "scene-000')
    with (folder / SCENES_FILE).open("a") as file:
        file.write('{"scene_id": "scene-0')
    reopened = CorpusWriter.open(folder)
    assert reopened.repaired_lines == 1
    assert set(reopened.completed) == {"scene-00000"}
    assert reopened.utterances() == [{"scene_id": "scene-00000", "text": "a"}]
    assert (folder / SCENES_FILE).read_text().count("\n") == 1
    assert not reopened.is_complete("scene-00001")


def test_a_folder_of_another_corpus_is_refused(tmp_path: Path, characters_dir: Path) -> None:
    cards = [characters_dir / "mira.yaml", characters_dir / "sable.yaml"]
    [spec] = plan_scenes(cards, ["t"], scenes=1, turns=2, policy=Policy.ROUND_ROBIN, seed=0)
    planned = {**spec.describe(["Captain Mira Voss", "Sable"]), "model": "m"}
    writer = CorpusWriter.open(tmp_path)
    writer.append_scene({**planned, "utterances": 0}, [])
    writer.check_plan([spec], [planned])  # same settings: fine
    with pytest.raises(RoleplayError, match=r"other settings.*topic"):
        writer.check_plan([spec], [{**planned, "topic": "another"}])


def test_out_must_be_a_folder(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(RoleplayError, match="must be a folder"):
        CorpusWriter.open(path)
