"""Personality fidelity: interview characters under each condition, score with each method.

For every condition the characters are interviewed once (all requested methods share the
forward passes), then each method turns the responses into trait scores on 0..1, which are
compared with the cards (``metrics.py``), with bootstrap intervals over items and characters
(``intervals.py``). The likelihood method's per-trait zero point is calibrated on a fixed
reference panel (by default the bundled characters, which are the set the platform is tuned
on), so a character's score does not depend on which others are evaluated with it; the
panel is interviewed under the same condition (characters in both sets are interviewed once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from roleplay.cards.loader import load_card
from roleplay.errors import RoleplayError
from roleplay.evaluation.characters import bundled_character_paths
from roleplay.evaluation.drift import checkpoints
from roleplay.evaluation.intervals import (
    DEFAULT_RESAMPLES,
    FidelityIntervals,
    LikelihoodPanel,
    fidelity_intervals,
)
from roleplay.evaluation.interview import Interviewer, ItemResponses, unsupported_reason
from roleplay.evaluation.metrics import (
    CharacterFidelity,
    OverallFidelity,
    compare_traits,
    summarise,
)
from roleplay.evaluation.plan import (
    CONDITION_LABELS,
    Condition,
    Method,
    require_available,
)
from roleplay.evaluation.questionnaire import InterviewSettings, Questionnaire
from roleplay.evaluation.scoring import (
    centre_across_characters,
    expected_answer,
    likelihood_trait_raw,
    likert_trait_scores,
    reference_offsets,
    to_unit_interval,
)


class EvaluationProgress(Protocol):
    """Receives progress in forward-pass rows (a rich progress bar in the CLI)."""

    def begin(self, total_rows: int) -> None: ...

    def label(self, text: str) -> None: ...

    def advance(self, rows: int) -> None: ...


@dataclass(frozen=True)
class CharacterSpec:
    name: str
    path: Path
    card_traits: dict[str, float]


@dataclass
class MethodResult:
    """One method under one condition: every character's estimate and the summary."""

    method: Method
    condition: Condition
    characters: list[CharacterFidelity]
    overall: OverallFidelity
    notes: list[str] = field(default_factory=list)
    intervals: FidelityIntervals | None = None
    turns: int = 0  # scripted conversation turns played before the interview (drift)


@dataclass
class PersonaReport:
    model_id: str
    characters: list[CharacterSpec]
    methods: list[Method]
    conditions: list[Condition]
    results: list[MethodResult]
    seconds: float
    controls: dict[str, dict[str, Any]] = field(default_factory=dict)  # condition/char -> controls
    reference: list[CharacterSpec] = field(default_factory=list)  # the likelihood panel
    checkpoints: list[int] = field(default_factory=lambda: [0])  # turns interviewed at
    conversation_seed: int | None = None  # drift: turn t's reply sampled with seed + t

    def result(self, method: Method, condition: Condition, turns: int = 0) -> MethodResult:
        for result in self.results:
            same = result.method is method and result.condition is condition
            if same and result.turns == turns:
                return result
        raise KeyError((method, condition, turns))

    @property
    def drift(self) -> bool:
        return any(self.checkpoints)


def character_spec(path: Path) -> CharacterSpec:
    card = load_card(path)
    return CharacterSpec(card.name, path, card.personality.big_five.as_dict())


def estimates_for(
    method: Method,
    responses: dict[str, ItemResponses],
    questionnaire: Questionnaire,
    settings: InterviewSettings,
    *,
    panel: LikelihoodPanel | None = None,
) -> tuple[dict[str, dict[str, float]], list[str]]:
    """Trait estimates per character name from the responses, and notes for the report.

    The likelihood method reads its zero point from ``panel`` (see the module text); without
    one it falls back to centring across the characters given, and says so in the notes.
    """
    options = len(settings.likert.options)
    notes: list[str] = []
    if method is Method.EXPECTED_LIKERT:
        return {
            name: likert_trait_scores(
                {item: expected_answer(p) for item, p in r.option_probabilities.items()},
                questionnaire,
                options,
            )
            for name, r in responses.items()
        }, notes
    if method is Method.GRAMMAR:
        return {
            name: likert_trait_scores(
                {item: float(a) for item, a in r.grammar_answers.items()}, questionnaire, options
            )
            for name, r in responses.items()
        }, notes
    raw = {
        name: likelihood_trait_raw(r.likelihood_differences, questionnaire)
        for name, r in responses.items()
    }
    scale = settings.likelihood.scale
    if panel is not None:
        offsets = reference_offsets(
            {
                name: likelihood_trait_raw(r.likelihood_differences, questionnaire)
                for name, r in panel.responses.items()
            },
            panel.cards,
            scale,
        )
        return {
            name: {
                trait: to_unit_interval(value - offsets[trait], scale)
                for trait, value in traits.items()
            }
            for name, traits in raw.items()
        }, notes
    if len(raw) < 2:
        notes.append("one character: likelihood scores are not centred across characters")
    else:
        notes.append("no reference panel: likelihood scores are centred across these characters")
    centred = centre_across_characters(raw)
    return {
        name: {trait: to_unit_interval(value, scale) for trait, value in traits.items()}
        for name, traits in centred.items()
    }, notes


def evaluate_persona(
    engine: object,
    card_paths: Sequence[Path],
    methods: Sequence[Method],
    conditions: Sequence[Condition],
    *,
    interviewer: Interviewer | None = None,
    progress: EvaluationProgress | None = None,
    reference_paths: Sequence[Path] | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    after_turns: Sequence[int] = (),
) -> PersonaReport:
    """Interview every card under every condition and score it with every method.

    ``reference_paths`` is the likelihood method's reference panel (default: the bundled
    characters); ``resamples`` the bootstrap's size (0 leaves the intervals out).
    ``after_turns``: also interview each character after that many turns of the scripted
    drift conversation (``drift.py``); the likelihood zero point stays the panel's at turn 0,
    so a change with turns is the character's, not the calibration's.
    """
    points = checkpoints(after_turns) if after_turns else [0]
    require_available([*methods, *conditions])
    for method in methods:
        if (reason := unsupported_reason(engine, method)) is not None:
            raise RoleplayError(reason)
    started = time.perf_counter()
    characters = [character_spec(path) for path in card_paths]
    names = [c.name for c in characters]
    if len(set(names)) != len(names):
        duplicates = sorted({n for n in names if names.count(n) > 1})
        raise RoleplayError(f"character {duplicates[0]!r} is given twice")
    uses_likelihood = Method.LIKELIHOOD in methods
    reference = (
        [character_spec(path) for path in (reference_paths or bundled_character_paths())]
        if uses_likelihood
        else []
    )
    evaluated = {spec.path.resolve() for spec in characters}
    extra_reference = [spec for spec in reference if spec.path.resolve() not in evaluated]
    interviewer = interviewer or Interviewer(
        engine, rows_done=progress.advance if progress else None
    )
    if progress is not None:
        per_interview = interviewer.rows(methods)
        panel_rows = interviewer.rows([Method.LIKELIHOOD]) * len(extra_reference)
        neutral = interviewer.neutral_rows() if uses_likelihood else 0
        progress.begin(
            (per_interview * len(characters) * len(points) + panel_rows) * len(conditions) + neutral
        )
    results: list[MethodResult] = []
    controls: dict[str, dict[str, Any]] = {}
    for condition in conditions:
        at_turns: dict[int, dict[str, ItemResponses]] = {turns: {} for turns in points}
        for character in characters:
            label = f"{character.name} ({CONDITION_LABELS[condition]})"
            if progress is not None:
                progress.label(label)
            answers = interviewer.interview_over_turns(
                character.path,
                condition,
                methods,
                points,
                turn_done=_turn_label(progress, label, points[-1]),
            )
            for turns, responses_then in answers.items():
                at_turns[turns][character.name] = responses_then
            if answers[0].controls:
                controls[f"{condition.value}/{character.name}"] = answers[0].controls
        panel = _reference_panel(
            interviewer, condition, reference, at_turns[0], extra_reference, progress
        )
        for turns in points:
            results.extend(
                _score(
                    at_turns[turns],
                    characters,
                    methods,
                    condition,
                    turns,
                    interviewer,
                    panel,
                    resamples,
                )
            )
    return PersonaReport(
        model_id=str(getattr(engine, "model_id", "unknown")),
        characters=characters,
        methods=list(methods),
        conditions=list(conditions),
        results=results,
        seconds=time.perf_counter() - started,
        controls=controls,
        reference=reference,
        checkpoints=points,
        conversation_seed=(
            interviewer.drift.generation.seed
            if interviewer.conversation_seed is None
            else interviewer.conversation_seed
        )
        if any(points)
        else None,
    )


def _turn_label(
    progress: EvaluationProgress | None, label: str, last: int
) -> Callable[[int], None] | None:
    if progress is None or not last:
        return None
    return lambda turn: progress.label(f"{label}: turn {turn}/{last}")


def _score(
    responses: dict[str, ItemResponses],
    characters: Sequence[CharacterSpec],
    methods: Sequence[Method],
    condition: Condition,
    turns: int,
    interviewer: Interviewer,
    panel: LikelihoodPanel | None,
    resamples: int,
) -> list[MethodResult]:
    """Every method's result for one condition and one checkpoint."""
    questionnaire, settings = interviewer.questionnaire, interviewer.settings
    unanswered = sum(r.unanswered for r in responses.values())  # server interviews only
    results = []
    for method in methods:
        estimates, notes = estimates_for(method, responses, questionnaire, settings, panel=panel)
        if method is Method.EXPECTED_LIKERT and unanswered:
            asked = len(questionnaire.items) * len(responses)
            notes.append(
                f"{unanswered} of {asked} answers had no answer digit among the server's top "
                "tokens and count as the middle answer"
            )
        fidelity = [
            compare_traits(c.name, c.card_traits, estimates[c.name], settings.accuracy)
            for c in characters
        ]
        intervals = None
        if resamples != 0:
            intervals = fidelity_intervals(
                method,
                responses,
                {c.name: c.card_traits for c in characters},
                questionnaire,
                settings,
                panel=panel,
                resamples=resamples,
            )
        results.append(
            MethodResult(method, condition, fidelity, summarise(fidelity), notes, intervals, turns)
        )
    return results


def _reference_panel(
    interviewer: Interviewer,
    condition: Condition,
    reference: Sequence[CharacterSpec],
    responses: dict[str, ItemResponses],
    extra: Sequence[CharacterSpec],
    progress: EvaluationProgress | None,
) -> LikelihoodPanel | None:
    """The panel's likelihood responses under ``condition`` (reusing evaluated characters)."""
    if not reference:
        return None
    panel: dict[str, ItemResponses] = {}
    extra_paths = {spec.path for spec in extra}
    for spec in reference:
        if spec.path in extra_paths:
            if progress is not None:
                progress.label(f"reference panel: {spec.name} ({CONDITION_LABELS[condition]})")
            panel[spec.name] = interviewer.interview(spec.path, condition, [Method.LIKELIHOOD])
        else:
            panel[spec.name] = responses[spec.name]
    return LikelihoodPanel(panel, {spec.name: spec.card_traits for spec in reference})
