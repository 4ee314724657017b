"""Toxicity scorers: detoxify through its own class, or a clearly named offline fallback.

The chat pipeline (flagging replies) and the bias audit use the same scorers. Detoxify's
weights come from GitHub releases, which many machines cannot reach, so:

- ``DetoxifyScorer`` always goes through the real ``detoxify.Detoxify`` class: with a local
  checkpoint (plus the folder holding its Hugging Face config and tokenizer, for offline
  loading), or with the normal download when the user allowed downloads;
- ``ProfanityCheckScorer`` is the fallback that ships inside a PyPI wheel: alt-profanity-check,
  a linear offensive-language/profanity classifier. It is *not* detoxify and its numbers are
  not comparable with detoxify's; everything that shows a number says which scorer made it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from roleplay.errors import RoleplayError
from roleplay.paths import configure_library_caches
from roleplay.settings import get_settings

CHECKPOINT_ENV = "ROLEPLAY_DETOXIFY_CHECKPOINT"
CONFIG_ENV = "ROLEPLAY_DETOXIFY_CONFIG"
DOWNLOADS_ENV = "ROLEPLAY_ALLOW_DOWNLOADS"
# Detoxify's label for the overall score; a checkpoint without it scores by its highest label.
PRIMARY_LABEL = "toxicity"
DETOXIFY_BATCH = 32  # texts per forward pass: bounded memory on long reply lists

PROFANITY_CHECK_NAME = "alt-profanity-check"
PROFANITY_CHECK_DESCRIPTION = (
    "alt-profanity-check (offensive-language/profanity classifier, not detoxify)"
)


@runtime_checkable
class ToxicityScorer(Protocol):
    """Scores texts between 0 (harmless) and 1 (toxic); ``name`` labels every number."""

    name: str

    def score(self, texts: list[str]) -> list[float]: ...


class DetoxifyScorer:
    """Detoxify's ``toxicity`` probability, through ``detoxify.Detoxify`` itself.

    ``checkpoint=None`` is detoxify's normal ``original`` model download (only when the user
    allowed downloads); a local checkpoint is a ``torch.load`` dict with ``config`` and
    ``state_dict`` (detoxify's format), and ``huggingface_config_path`` the folder with the
    config and tokenizer its architecture needs, so nothing is fetched from a hub.
    """

    name = "detoxify"

    def __init__(
        self, checkpoint: Path | None = None, huggingface_config_path: Path | None = None
    ) -> None:
        configure_library_caches()  # torch hub and HF caches go under ROLEPLAY_HOME
        from detoxify import Detoxify

        self.checkpoint = checkpoint
        self.huggingface_config_path = huggingface_config_path
        source = str(checkpoint) if checkpoint is not None else "original (downloaded)"
        self.description = f"detoxify ({source})"
        self._model = Detoxify(
            checkpoint=str(checkpoint) if checkpoint is not None else None,
            huggingface_config_path=(
                str(huggingface_config_path) if huggingface_config_path is not None else None
            ),
        )
        self.labels: list[str] = list(self._model.class_names)

    def score_labels(self, texts: list[str]) -> list[dict[str, float]]:
        """Every label's probability for every text."""
        rows: list[dict[str, float]] = []
        for start in range(0, len(texts), DETOXIFY_BATCH):
            chunk = texts[start : start + DETOXIFY_BATCH]
            predicted: Mapping[str, Any] = self._model.predict(chunk)
            for index in range(len(chunk)):
                rows.append({label: _at(values, index) for label, values in predicted.items()})
        return rows

    def score(self, texts: list[str]) -> list[float]:
        return [
            row[PRIMARY_LABEL] if PRIMARY_LABEL in row else max(row.values())
            for row in self.score_labels(texts)
        ]


def _at(values: Any, index: int) -> float:
    # Detoxify squeezes a one-text batch to a bare float.
    return float(values[index] if isinstance(values, Sequence) else values)


class ProfanityCheckScorer:
    """The offline fallback: alt-profanity-check's probability that a text is offensive."""

    name = PROFANITY_CHECK_NAME
    description = PROFANITY_CHECK_DESCRIPTION

    def __init__(self) -> None:
        # Importing loads the pickled vectorizer and model (~0.3 s), so do it once, here.
        from profanity_check import predict_prob

        self._predict_prob = predict_prob

    def score(self, texts: list[str]) -> list[float]:
        if not texts:
            return []
        return [float(value) for value in self._predict_prob(list(texts))]


@dataclass(frozen=True)
class ScorerChoice:
    """The scorer in use and why it was chosen (shown to the user and written in reports)."""

    scorer: ToxicityScorer
    description: str
    reason: str

    @property
    def is_fallback(self) -> bool:
        return self.scorer.name != DetoxifyScorer.name


def _path_from(value: Path | str | None, configured: Path | None) -> Path | None:
    return Path(value).expanduser() if value is not None else configured


def load_toxicity_scorer(
    checkpoint: Path | str | None = None,
    huggingface_config_path: Path | str | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> ScorerChoice:
    """Detoxify when its weights are available, else the named fallback; says which and why.

    Order: a checkpoint given here or in ``ROLEPLAY_DETOXIFY_CHECKPOINT`` (with its config
    folder here or in ``ROLEPLAY_DETOXIFY_CONFIG``): an explicit request, so a checkpoint that
    does not load is an error rather than a silent fallback. Then, with
    ``ROLEPLAY_ALLOW_DOWNLOADS=1``, detoxify's normal download (falling back if it fails).
    Otherwise the alt-profanity-check fallback. The three settings may also come from
    config.toml (roleplay.settings); ``environ`` replaces os.environ (tests).
    """
    settings = get_settings(environ)
    checkpoint_path = _path_from(checkpoint, settings.detoxify_checkpoint)
    config_path = _path_from(huggingface_config_path, settings.detoxify_config)
    if config_path is not None and checkpoint_path is None:
        raise RoleplayError(
            f"a detoxify config folder was given ({config_path}) but no checkpoint; "
            f"pass --detoxify-checkpoint or set {CHECKPOINT_ENV}"
        )
    if checkpoint_path is not None:
        return _explicit_detoxify(checkpoint_path, config_path)
    if settings.allow_downloads:
        try:
            scorer = DetoxifyScorer()
        except Exception as error:  # network, hub or format problems: all mean "not available"
            return _fallback(f"detoxify download failed ({_first_line(error)})")
        return ScorerChoice(scorer, scorer.description, f"{DOWNLOADS_ENV}=1: detoxify downloaded")
    return _fallback(
        f"no detoxify weights configured ({CHECKPOINT_ENV}/{CONFIG_ENV} or "
        f"--detoxify-checkpoint/--detoxify-config; or {DOWNLOADS_ENV}=1 to download them)"
    )


def _explicit_detoxify(checkpoint: Path, config: Path | None) -> ScorerChoice:
    if not checkpoint.is_file():
        raise RoleplayError(f"detoxify checkpoint {checkpoint}: no such file")
    if config is not None and not (config / "config.json").is_file():
        raise RoleplayError(
            f"detoxify config folder {config}: config.json is missing "
            "(it must hold the Hugging Face config and tokenizer of the checkpoint)"
        )
    try:
        scorer = DetoxifyScorer(checkpoint, config)
    except Exception as error:  # detoxify raises ValueError, OSError, KeyError, pickle errors
        raise RoleplayError(
            f"detoxify checkpoint {checkpoint} does not load: {_first_line(error)}"
        ) from error
    return ScorerChoice(scorer, scorer.description, f"local checkpoint {checkpoint}")


def _fallback(reason: str) -> ScorerChoice:
    scorer = ProfanityCheckScorer()
    return ScorerChoice(scorer, scorer.description, f"fallback: {reason}")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
