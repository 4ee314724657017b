"""Toxicity scorers: detoxify through its real class (tiny local checkpoint), the fallback."""

from __future__ import annotations

from pathlib import Path

import pytest

from roleplay.errors import RoleplayError
from roleplay.safety import (
    DetoxifyScorer,
    ProfanityCheckScorer,
    ToxicityScorer,
    load_toxicity_scorer,
)
from roleplay.safety.toxicity import PROFANITY_CHECK_DESCRIPTION

TEXTS = ["you are a stupid idiot", "thank you friend, have a lovely day", "hello", ""]


def test_detoxify_scorer_loads_local_checkpoint_through_real_class(
    tiny_detoxify: tuple[Path, Path],
) -> None:
    from detoxify import Detoxify

    checkpoint, config = tiny_detoxify
    scorer = DetoxifyScorer(checkpoint, config)
    assert isinstance(scorer._model, Detoxify)
    assert isinstance(scorer, ToxicityScorer)
    assert scorer.name == "detoxify"
    # detoxify renames toxic -> toxicity, identity_hate -> identity_attack, ...
    assert scorer.labels[0] == "toxicity" and "identity_attack" in scorer.labels
    scores = scorer.score(TEXTS)
    assert len(scores) == len(TEXTS)
    assert all(0.0 <= value <= 1.0 for value in scores)
    # A tokenizer that ignored its vocabulary would score every text identically.
    assert len({round(value, 6) for value in scores}) > 1
    assert scorer.score(TEXTS[:1]) == pytest.approx(scores[:1], abs=1e-5)  # 1-text batches


def test_loader_prefers_checkpoint_from_environment(tiny_detoxify: tuple[Path, Path]) -> None:
    checkpoint, config = tiny_detoxify
    environ = {
        "ROLEPLAY_DETOXIFY_CHECKPOINT": str(checkpoint),
        "ROLEPLAY_DETOXIFY_CONFIG": str(config),
    }
    choice = load_toxicity_scorer(environ=environ)
    assert choice.scorer.name == "detoxify"
    assert not choice.is_fallback
    assert str(checkpoint) in choice.description and str(checkpoint) in choice.reason


def test_loader_arguments_override_environment(tiny_detoxify: tuple[Path, Path]) -> None:
    checkpoint, config = tiny_detoxify
    environ = {"ROLEPLAY_DETOXIFY_CHECKPOINT": "/nonexistent.ckpt"}
    choice = load_toxicity_scorer(checkpoint, config, environ=environ)
    assert choice.scorer.name == "detoxify"


def test_fallback_is_labelled_as_not_detoxify() -> None:
    choice = load_toxicity_scorer(environ={})
    assert choice.is_fallback
    assert isinstance(choice.scorer, ProfanityCheckScorer)
    assert choice.scorer.name == "alt-profanity-check"
    assert choice.description == PROFANITY_CHECK_DESCRIPTION
    assert "not detoxify" in choice.description
    assert choice.reason.startswith("fallback:")
    scores = choice.scorer.score(TEXTS)
    assert len(scores) == len(TEXTS) and all(0.0 <= value <= 1.0 for value in scores)
    assert scores[0] > 0.5 > scores[1]  # the trained model does know insults
    assert choice.scorer.score([]) == []


def test_failed_download_falls_back_with_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    import roleplay.safety.toxicity as toxicity

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("URLError: no route to host")

    monkeypatch.setattr(toxicity.DetoxifyScorer, "__init__", no_network)
    choice = load_toxicity_scorer(environ={"ROLEPLAY_ALLOW_DOWNLOADS": "1"})
    assert choice.is_fallback
    assert "download failed" in choice.reason and "no route" in choice.reason


@pytest.mark.parametrize(
    ("checkpoint", "config", "message"),
    [
        ("missing.ckpt", None, "no such file"),
        (None, "cfg", "no checkpoint"),
        ("bad.ckpt", None, "does not load"),
        ("tiny", "missing-cfg", "config.json is missing"),
    ],
)
def test_explicit_but_broken_detoxify_is_a_clear_error(
    tmp_path: Path,
    tiny_detoxify: tuple[Path, Path],
    checkpoint: str | None,
    config: str | None,
    message: str,
) -> None:
    (tmp_path / "bad.ckpt").write_bytes(b"not a checkpoint")
    checkpoint_path = (
        tiny_detoxify[0] if checkpoint == "tiny" else tmp_path / checkpoint if checkpoint else None
    )
    config_path = tmp_path / config if config else None
    with pytest.raises(RoleplayError, match=message) as raised:
        load_toxicity_scorer(checkpoint_path, config_path, environ={})
    assert "\n" not in raised.value.message
