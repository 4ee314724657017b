"""Runs an audit end to end: plan -> generate (batched, resumable) -> score -> metrics -> report."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from bias_audit.generation import (
    GENERATIONS_FILE,
    PromptBuilder,
    ReplyLog,
    audit_pipeline,
    batch_generator,
    chat_settings,
    run_generation,
)
from bias_audit.metrics import (
    ALPHA,
    CONFIDENCE,
    CORRECTIONS,
    POWER_TARGET,
    Outcome,
    cell_stats,
    macro_harmful_difference,
    summarise,
)
from bias_audit.personas import (
    BASELINE,
    Persona,
    character_persona,
    first_per_axis,
    load_persona_set,
    unique,
)
from bias_audit.probes import DIMENSIONS, ProbeItem, build_plan, load_prompt_set, select_items
from bias_audit.report import (
    build_results,
    worst_examples,
    write_csv,
    write_html,
    write_json,
    write_markdown,
)
from bias_audit.scoring import AGREEMENT_METHOD, REGARD_METHOD, measured_by, score_replies
from roleplay.cards.loader import load_card
from roleplay.cards.registry import resolve_card
from roleplay.engine.base import (
    DEFAULT_GENERATION,
    Engine,
    GenerationSettings,
    capabilities_of,
)
from roleplay.errors import RoleplayError
from roleplay.safety import ScorerChoice, load_toxicity_scorer

RUN_FILE = "run.json"
FULL_SAMPLES = 8  # prompts per dimension: 1,640 replies for the 41 bundled personas
QUICK_SAMPLES = 3
FULL_MAX_NEW_TOKENS = 40  # a stance and a reason; chat's 160 would quadruple the time
QUICK_MAX_NEW_TOKENS = 40
# Settings that must match for --resume: replies made with others would be mixed in.
RESUME_KEYS = ("model", "seed", "generation")


@dataclass
class AuditConfig:
    out: Path
    model: str | None = None
    characters: list[str] = field(default_factory=list)
    persona_sets: list[str] = field(default_factory=lambda: ["generic"])
    dimensions: list[str] = field(default_factory=lambda: list(DIMENSIONS))
    samples: int | None = None  # default: FULL_SAMPLES, or QUICK_SAMPLES with quick
    quick: bool = False
    resume: bool = False
    seed: int = 0
    detoxify_checkpoint: Path | None = None
    detoxify_config: Path | None = None
    batch_size: int = 16  # measured: 4.5x one-at-a-time on the default model, 8 gives 4.0x
    max_new_tokens: int | None = None
    prompts_dir: Path | None = None
    context_window: int | None = None
    # Batched generation runs on transformers (4.5x one-at-a-time); llama.cpp generates one
    # reply at a time; an OpenAI-compatible server gets concurrent requests.
    backend: str = "transformers"
    base_url: str | None = None
    api_key: str | None = None
    threads: int | None = None
    concurrency: int = 4  # requests in flight to a server (openai backend)

    @property
    def prompt_count(self) -> int:
        if self.samples is not None:
            return self.samples
        return QUICK_SAMPLES if self.quick else FULL_SAMPLES


@dataclass
class AuditOutcome:
    out: Path
    results: dict[str, Any]
    files: dict[str, Path]


def prepare_out_dir(out: Path, resume: bool) -> None:
    """Create ``out`` and prove it is writable before anything slow happens."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_text("ok")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise RoleplayError(f"cannot write to --out {out}: {reason}") from error
    if not resume and (out / GENERATIONS_FILE).exists():
        raise RoleplayError(
            f"{out} already holds an audit ({GENERATIONS_FILE}); pass --resume to continue it "
            "or choose another --out"
        )


def select_personas(config: AuditConfig) -> list[Persona]:
    personas: list[Persona] = [BASELINE]
    for reference in config.persona_sets:
        if reference == "none":
            continue
        loaded = load_persona_set(reference)
        personas.extend(first_per_axis(loaded) if config.quick else loaded)
    for name in config.characters:
        path = resolve_card(name)
        personas.append(character_persona(path, load_card(path).name))
    return unique(personas)


def select_prompts(config: AuditConfig) -> dict[str, list[ProbeItem]]:
    return {
        dimension: select_items(
            load_prompt_set(dimension, config.prompts_dir), config.prompt_count, config.seed
        )
        for dimension in config.dimensions
    }


def generation_settings(config: AuditConfig) -> GenerationSettings:
    """Chat's sampling settings (roleplay chat's defaults), with a shorter reply."""
    default_tokens = QUICK_MAX_NEW_TOKENS if config.quick else FULL_MAX_NEW_TOKENS
    return replace(
        DEFAULT_GENERATION,
        max_new_tokens=config.max_new_tokens or default_tokens,
        seed=config.seed,
    )


def _check_resume(out: Path, identity: dict[str, Any], resume: bool) -> None:
    path = out / RUN_FILE
    if resume and path.is_file():
        previous = json.loads(path.read_text("utf-8"))
        for key in RESUME_KEYS:
            if previous.get(key) != identity.get(key):
                raise RoleplayError(
                    f"--resume: {out} was generated with {key}={previous.get(key)!r}, this run "
                    f"has {identity.get(key)!r}; use the same settings or another --out"
                )
    path.write_text(json.dumps(identity, indent=2) + "\n", "utf-8")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_audit(
    config: AuditConfig,
    *,
    engine: Engine | None = None,
    scorer: ScorerChoice | None = None,
    console: Console | None = None,
    status: Callable[[str], None] | None = None,
) -> AuditOutcome:
    console = console or Console(stderr=True)
    say = status or (lambda message: console.print(f"[dim]{message}[/]"))
    started, clock = _now(), time.perf_counter()
    if config.batch_size < 1:
        raise RoleplayError("--batch-size must be at least 1")
    prepare_out_dir(config.out, config.resume)
    personas = select_personas(config)
    items = select_prompts(config)
    jobs = build_plan(personas, items)
    if scorer is None:
        scorer = load_toxicity_scorer(config.detoxify_checkpoint, config.detoxify_config)
    say(f"Toxicity scorer: {scorer.description} ({scorer.reason})")
    if engine is None:
        from roleplay.application import BackendOptions, load_engine

        engine = load_engine(
            BackendOptions(
                backend=config.backend,
                model=config.model,
                base_url=config.base_url,
                api_key=config.api_key,
                threads=config.threads,
                context_window=config.context_window,
            ),
            status=say,
        )
        if hasattr(engine, "concurrency"):
            engine.concurrency = config.concurrency
    settings = generation_settings(config)
    sampling: dict[str, Any] = {
        "max_new_tokens": settings.max_new_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "top_k": settings.top_k,
        "repetition_penalty": settings.repetition_penalty,
    }
    identity = {"model": engine.model_id, "seed": config.seed, "generation": sampling}
    _check_resume(config.out, identity, config.resume)
    log = ReplyLog(config.out / GENERATIONS_FILE)
    before = set(log.load())
    say(f"{len(personas)} personas x {len(config.dimensions)} dimensions: {len(jobs)} replies")
    # The prompt budget is chat's (its default reply length); only the generated length is shorter.
    with audit_pipeline(engine, DEFAULT_GENERATION) as pipeline:
        builder = PromptBuilder(pipeline)
        generate = batch_generator(engine, config.batch_size)
        progress = Progress(
            TextColumn("[bold]generating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        with progress:
            task = progress.add_task("replies", total=len(jobs))
            try:
                replies = run_generation(
                    jobs,
                    builder,
                    generate,
                    chat_settings(settings),
                    log,
                    batch_size=config.batch_size,
                    on_batch=lambda count: progress.advance(task, count),
                )
            except KeyboardInterrupt:
                console.print(
                    f"[yellow]interrupted: finished replies are kept in {log.path}; "
                    "run the same command with --resume to continue[/]"
                )
                raise
    planned = [replies[job.key] for job in jobs]
    generated_now = sum(1 for job in jobs if job.key not in before)
    say("Scoring replies...")
    item_index = {(item.dimension, item.id): item for group in items.values() for item in group}
    verdicts = score_replies(planned, item_index, scorer)
    cells = cell_stats([Outcome(v.persona, v.dimension, v.failed) for v in verdicts])
    summaries = summarise(cells, alpha=ALPHA, correction="benjamini-hochberg")
    tests = sum(1 for cell in cells if cell.p_value is not None)
    for summary in summaries:
        say(f"{summary.dimension}: {summary.power_note}")
    labels = {persona.id: persona.label for persona in personas}
    methods = {dimension: measured_by(dimension, scorer) for dimension in config.dimensions}
    metadata = {
        "model": config.model,
        "model_id": engine.model_id,
        # Which backend generated the replies (personas are prompts: nothing is steered).
        "backend": capabilities_of(engine).backend,
        "seed": config.seed,
        "samples": config.prompt_count,
        "quick": config.quick,
        "dimensions": list(config.dimensions),
        "generation": {**sampling, "batch_size": config.batch_size},
        "scorer": {
            "name": scorer.scorer.name,
            "description": scorer.description,
            "reason": scorer.reason,
        },
        "methods": {"regard": REGARD_METHOD, "agreement": AGREEMENT_METHOD},
        "toxicity_threshold": 0.5,
        "statistics": {
            "interval": f"Wilson score, {CONFIDENCE:.0%}",
            "confidence": CONFIDENCE,
            "test": "Fisher's exact test, two-sided, each persona vs the baseline",
            "correction": CORRECTIONS["benjamini-hochberg"],
            "alpha": ALPHA,
            "tests": tests,
            "per_test_level": ALPHA / max(tests, 1),
            "power_target": POWER_TARGET,
            "power_method": (
                "exact: every binomial outcome of a persona (the dimension's median n) and "
                "the baseline (its n, at its observed rate), Fisher's test at alpha / tests"
            ),
        },
        "replies": len(verdicts),
        "generated_this_run": generated_now,
        "resumed": config.resume and bool(before),
        "started": started,
        "finished": _now(),
        "seconds": round(time.perf_counter() - clock, 1),
    }
    results = build_results(
        metadata=metadata,
        personas=personas,
        cells=cells,
        summaries=summaries,
        macro=macro_harmful_difference(summaries),
        measured_by=methods,
        examples=worst_examples(verdicts, item_index, labels),
    )
    files = {
        "json": config.out / "results.json",
        "csv": config.out / "results.csv",
        "markdown": config.out / "report.md",
        "html": config.out / "report.html",
        "scores": config.out / "scores.jsonl",
    }
    say("Writing reports...")
    write_json(results, files["json"])
    write_csv(results, files["csv"])
    write_markdown(results, files["markdown"])
    write_html(results, cells, files["html"])
    files["scores"].write_text(
        "".join(json.dumps(v.as_dict(), ensure_ascii=False) + "\n" for v in verdicts), "utf-8"
    )
    return AuditOutcome(config.out, results, files)
