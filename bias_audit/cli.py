"""`roleplay audit`: the persona bias and toxicity audit (registered as a plugin command).

Imports stay inside the function: `roleplay --help` loads every plugin command, and the
audit's dependencies (torch, matplotlib, detoxify) must not slow that down.
"""

from __future__ import annotations

from pathlib import Path

import typer

from roleplay.cli.options import ApiKeyOption, BaseUrlOption, ModelOption, ThreadsOption


def _default_out() -> Path:
    from datetime import datetime

    return Path(f"audit-{datetime.now().strftime('%Y%m%d-%H%M%S')}")


def audit_command(
    model: str | None = ModelOption,
    backend: str = typer.Option(
        "transformers",
        "--backend",
        help="transformers (batched, the default here), llama.cpp (one reply at a time) or "
        "openai (concurrent requests to --base-url).",
    ),
    base_url: str | None = BaseUrlOption,
    api_key: str | None = ApiKeyOption,
    threads: int | None = ThreadsOption,
    concurrency: int = typer.Option(
        4,
        "--concurrency",
        min=1,
        max=256,
        help="With --backend openai: requests in flight at once (scale out on vLLM).",
    ),
    character: list[str] = typer.Option(
        [], "--character", "-c", help="Also audit this character card (repeatable)."
    ),
    personas: list[str] = typer.Option(
        [],
        "--personas",
        help="Persona set: 'generic' (default), 'specific', 'none', or a .yaml/.json/.txt file "
        "(repeatable).",
    ),
    dimensions: list[str] = typer.Option(
        [],
        "--dimensions",
        "-d",
        help="Dimensions to audit (repeatable or comma-separated; default: all five): "
        "offensiveness, toxic_continuation, regard, stereotype_agreement, toxic_agreement.",
    ),
    samples: int | None = typer.Option(
        None,
        "--samples",
        "-n",
        min=1,
        max=1000,
        help="Prompts per dimension (default 8; quick 3).",
    ),
    quick: bool = typer.Option(
        False, "--quick", help="One persona per axis, 3 prompts per dimension: a few minutes."
    ),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: ./audit-DATE-TIME)."
    ),
    resume: bool = typer.Option(False, "--resume", help="Continue an interrupted audit in --out."),
    seed: int = typer.Option(0, "--seed", help="Seed for prompt selection and sampling."),
    detoxify_checkpoint: Path | None = typer.Option(
        None, "--detoxify-checkpoint", help="Local detoxify checkpoint (.ckpt)."
    ),
    detoxify_config: Path | None = typer.Option(
        None, "--detoxify-config", help="Folder with the checkpoint's HF config and tokenizer."
    ),
    batch_size: int = typer.Option(16, "--batch-size", min=1, max=256, help="Replies per batch."),
    max_new_tokens: int | None = typer.Option(
        None, "--max-new-tokens", min=1, max=1024, help="Reply length in tokens (default 40)."
    ),
    prompts_dir: Path | None = typer.Option(
        None, "--prompts", help="Folder with <dimension>.yaml prompt sets replacing bundled ones."
    ),
    context_window: int | None = typer.Option(None, "--context-window", help="Tokens of context."),
) -> None:
    """Audit personas and characters for toxicity and bias. Writes report.html and data files."""
    from rich.console import Console

    from bias_audit.probes import parse_dimensions
    from bias_audit.runner import AuditConfig, run_audit
    from roleplay.cli.options import backend_options, card_path
    from roleplay.paths import configure_library_caches

    configure_library_caches()
    backend_options(backend, model, base_url, api_key, threads)  # fail fast on a bad choice
    for reference in character:
        card_path(reference)  # a typo or a broken card fails before --out or a model is touched
    config = AuditConfig(
        out=out or _default_out(),
        model=model,
        characters=list(character),
        persona_sets=list(personas) or ["generic"],
        dimensions=parse_dimensions(dimensions),
        samples=samples,
        quick=quick,
        resume=resume,
        seed=seed,
        detoxify_checkpoint=detoxify_checkpoint,
        detoxify_config=detoxify_config,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        prompts_dir=prompts_dir,
        context_window=context_window,
        backend=backend,
        base_url=base_url,
        api_key=api_key,
        threads=threads,
        concurrency=concurrency,
    )
    outcome = run_audit(config)
    console = Console(highlight=False)
    results = outcome.results
    macro = results["harmful_difference_macro"]
    console.print(f"[bold]Audit of {results['metadata']['model_id']}[/]")
    console.print(f"toxicity scorer: {results['metadata']['scorer']['description']}")
    for summary in results["dimensions"]:
        baseline = summary["baseline_rate"]
        gap = summary["max_gap"]
        console.print(
            f"  {summary['title']:<32} baseline {_pct(baseline):>6}  "
            f"harmful difference {_num(summary['harmful_difference'])}  "
            f"max gap {_pts(gap)}  flagged {len(summary['flagged'])}"
        )
    console.print(f"harmful difference (macro): {_num(macro)}")
    console.print(f"report: {outcome.files['html']}")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _pts(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.1f} pts"
