"""Back-testing a corpus (as in PsyPlay): do the lines portray the traits on the card?

For every (scene, speaker) the portrayed traits are estimated from that speaker's lines alone,
without the card: with the likelihood method of the persona interview, a neutral role-player
who has said these lines is asked to describe itself, and each IPIP statement's
log-likelihood is compared with the same role-player without the lines. Keyed item
differences are averaged per trait and centred per trait across all samples of the corpus,
so the sign says whether this speaker came across as higher or lower than the others.

Reported per trait: the share of samples whose side matches the card (card scores within the
exclusion margin of 0.5 are not counted, as in Acc(Dim)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from roleplay.cards.model import BIG_FIVE_TRAITS
from roleplay.dialogue.settings import DialogueSettings, load_dialogue_settings
from roleplay.engine.base import ChatMessage
from roleplay.errors import RoleplayError
from roleplay.evaluation.interview import Interviewer
from roleplay.evaluation.metrics import has_side, same_side
from roleplay.evaluation.questionnaire import load_interview_settings
from roleplay.evaluation.scoring import centre_across_characters, likelihood_trait_raw

Record = dict[str, Any]
LINES_SHARE_OF_CONTEXT = 0.5  # the speaker's lines may fill at most half the context window


@dataclass(frozen=True)
class SpeakerSample:
    scene_id: str
    speaker: str
    lines: tuple[str, ...]
    card_traits: dict[str, float]

    @property
    def key(self) -> str:
        return f"{self.scene_id}/{self.speaker}"


@dataclass
class BacktestReport:
    samples: int
    characters: int
    trait_match: dict[str, float | None]  # share of counted samples on the card's side
    trait_counted: dict[str, int]
    overall: float | None
    per_character: dict[str, dict[str, float | None]]
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def rounded(value: float | None) -> float | None:
            return None if value is None else round(value, 4)

        return {
            "method": "likelihood (lines as context vs none; centred across samples)",
            "samples": self.samples,
            "characters": self.characters,
            "overall": rounded(self.overall),
            "trait_match": {t: rounded(v) for t, v in self.trait_match.items()},
            "trait_counted": self.trait_counted,
            "per_character": {
                name: {t: rounded(v) for t, v in traits.items()}
                for name, traits in self.per_character.items()
            },
            "notes": self.notes,
        }


def speaker_samples(records: Sequence[Record]) -> list[SpeakerSample]:
    """One sample per (scene, speaker) with non-empty lines, in corpus order."""
    grouped: dict[tuple[str, str], list[Record]] = {}
    for record in records:
        grouped.setdefault((str(record["scene_id"]), str(record["speaker"])), []).append(record)
    samples = []
    for (scene_id, speaker), rows in grouped.items():
        lines = tuple(str(row["text"]).strip() for row in rows if str(row["text"]).strip())
        if lines:
            traits = {trait: float(rows[0]["traits"][trait]) for trait in BIG_FIVE_TRAITS}
            samples.append(SpeakerSample(scene_id, speaker, lines, traits))
    return samples


class PortrayalEstimator:
    """Raw (uncentred) trait evidence of a speaker's lines, one batched pass per sample."""

    def __init__(self, interviewer: Interviewer, settings: DialogueSettings | None = None):
        self.interviewer = interviewer
        self.engine = interviewer.engine
        self.settings = settings or load_dialogue_settings()

    def _context(self, lines: Sequence[str]) -> list[int]:
        budget = int(self.engine.context_window * LINES_SHARE_OF_CONTEXT)
        kept: list[str] = []
        for line in reversed(lines):  # the latest lines first, until the budget is used
            if self.engine.count_tokens("\n".join([line, *kept])) > budget and kept:
                break
            kept.insert(0, line)
        system = self.settings.backtest.system_prompt.replace("{lines}", "\n".join(kept))
        prompt = self.engine.render_chat(
            [
                ChatMessage("system", system),
                ChatMessage("user", self.interviewer.settings.likelihood.request),
            ]
        )
        return self.interviewer.scorer.token_ids(prompt)

    def raw_traits(self, sample: SpeakerSample) -> dict[str, float]:
        questionnaire = self.interviewer.questionnaire
        scorer = self.interviewer.scorer
        statements = [scorer.token_ids(item.statement) for item in questionnaire.items]
        context = self._context(sample.lines)
        scores = scorer.continuation_logprobs(
            [context] * len(statements),
            statements,
            batch_size=self.interviewer.batch_size,
            rows_done=None,
        )
        neutral = self.interviewer.neutral_log_likelihoods()
        differences = {
            item.id: score - neutral[item.id]
            for item, score in zip(questionnaire.items, scores, strict=True)
        }
        return likelihood_trait_raw(differences, questionnaire)


def backtest(
    engine: object,
    records: Sequence[Record],
    *,
    on_sample: Callable[[SpeakerSample], None] | None = None,
) -> BacktestReport:
    """Estimate every sample's portrayed traits and compare their sides with the cards."""
    samples = speaker_samples(records)
    if not samples:
        raise RoleplayError("the corpus has no utterances to back-test")
    interviewer = Interviewer(engine)
    estimator = PortrayalEstimator(interviewer)
    raw: dict[str, dict[str, float]] = {}
    for sample in samples:
        raw[sample.key] = estimator.raw_traits(sample)
        if on_sample is not None:
            on_sample(sample)
    return compare_portrayals(samples, centre_across_characters(raw))


def compare_portrayals(
    samples: Sequence[SpeakerSample], centred: dict[str, dict[str, float]]
) -> BacktestReport:
    """Shares of samples on the card's side, per trait, overall and per character."""
    accuracy = load_interview_settings().accuracy
    marks: dict[str, list[bool]] = {trait: [] for trait in BIG_FIVE_TRAITS}
    by_character: dict[str, dict[str, list[bool]]] = {}
    for sample in samples:
        own = by_character.setdefault(sample.speaker, {t: [] for t in BIG_FIVE_TRAITS})
        for trait in BIG_FIVE_TRAITS:
            card = sample.card_traits[trait]
            if not has_side(card, accuracy):
                continue
            # Centred evidence: above zero reads as the high side of the card's 0..1 scale.
            estimate = accuracy.midpoint + centred[sample.key][trait]
            correct = same_side(card, estimate, accuracy.midpoint)
            marks[trait].append(correct)
            own[trait].append(correct)

    def share(values: list[bool]) -> float | None:
        return sum(values) / len(values) if values else None

    everything = [mark for values in marks.values() for mark in values]
    notes = []
    if len({sample.speaker for sample in samples}) < 2:
        notes.append("one character only: centring across samples compares it with itself")
    return BacktestReport(
        samples=len(samples),
        characters=len(by_character),
        trait_match={trait: share(values) for trait, values in marks.items()},
        trait_counted={trait: len(values) for trait, values in marks.items()},
        overall=share(everything),
        per_character={
            name: {trait: share(values) for trait, values in traits.items()}
            for name, traits in by_character.items()
        },
        notes=notes,
    )
