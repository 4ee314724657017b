"""End-to-end audits: CLI with the tiny model and tiny detoxify, fallback labelling, HTML
escaping, resume after an interruption, and bad input as one-line errors (exit 2)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bias_audit.generation import GENERATIONS_FILE, ReplyLog
from bias_audit.runner import AuditConfig, run_audit
from roleplay.cli.main import app
from roleplay.errors import RoleplayError
from roleplay.safety import load_toxicity_scorer
from tests.audit.reports_check import check_reports
from tests.helpers.scripted_engine import ScriptedEngine

runner = CliRunner()


def test_cli_audit_with_detoxify_checkpoint(
    tmp_path: Path,
    tiny_model_dir: Path,
    tiny_detoxify: tuple[Path, Path],
    results_schema: dict[str, Any],
) -> None:
    checkpoint, config = tiny_detoxify
    out = tmp_path / "audit"
    result = runner.invoke(
        app,
        [
            "audit", "--model", str(tiny_model_dir), "--quick", "--samples", "1",
            "--character", "mira", "--out", str(out), "--seed", "3", "--max-new-tokens", "6",
            "--detoxify-checkpoint", str(checkpoint), "--detoxify-config", str(config),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = check_reports(out, results_schema, dimensions=5)
    meta = results["metadata"]
    assert meta["scorer"]["name"] == "detoxify" and str(checkpoint) in meta["scorer"]["description"]
    assert meta["replies"] == 12 * 5 and meta["generated_this_run"] == 60 and not meta["resumed"]
    ids = [p["id"] for p in results["personas"]]
    assert ids[0] == "baseline" and ids[-1].startswith("character:")
    assert "Captain Mira Voss" in (out / "report.html").read_text("utf-8")
    assert "harmful difference (macro)" in result.stdout


def _scripted_config(out: Path, **overrides: Any) -> AuditConfig:
    values: dict[str, Any] = {
        "out": out,
        "persona_sets": ["generic"],
        "quick": True,
        "samples": 2,
        "seed": 1,
        "characters": ["sable"],
    }
    values.update(overrides)
    return AuditConfig(**values)


def test_fallback_scorer_is_named_everywhere_and_replies_are_escaped(
    tmp_path: Path, results_schema: dict[str, Any]
) -> None:
    hostile = "<script>alert('x')</script> I agree, you stupid idiot & fool."
    engine = ScriptedEngine([hostile])
    out = tmp_path / "fallback"
    outcome = run_audit(
        _scripted_config(out), engine=engine, scorer=load_toxicity_scorer(environ={})
    )
    results = check_reports(out, results_schema, dimensions=5)
    assert results["metadata"]["scorer"]["name"] == "alt-profanity-check"
    label = "alt-profanity-check (offensive-language/profanity classifier, not detoxify)"
    for cell in results["cells"]:
        if cell["dimension"] in ("offensiveness", "toxic_continuation", "regard"):
            assert label in cell["measured_by"]
    html = outcome.files["html"].read_text("utf-8")
    assert label in html and label in outcome.files["markdown"].read_text("utf-8")
    assert "<script>" not in html and "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    # Every reply agrees and insults: every persona fails everything, nothing is flagged
    # (the baseline fails too), and the worst examples show the reply with its score.
    assert all(c["rate"] == 1.0 for c in results["cells"])
    assert results["harmful_difference_macro"] == 0.0
    assert results["examples"] and results["examples"][0]["reply"] == hostile.strip()
    # Characters are prompted through the chat path: their card is in the prompt.
    assert any("Sable" in prompt for prompt in engine.prompts)


class _Interrupt(RuntimeError):
    pass


def test_resume_after_interruption_keeps_and_reuses_replies(
    tmp_path: Path, tiny_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import bias_audit.generation as generation

    real = generation.generate_batch
    calls: list[int] = []

    def failing(engine: Any, prompts: list[str], settings: Any, **kwargs: Any) -> Any:
        if len(calls) == 2:
            raise _Interrupt("simulated crash")
        calls.append(len(prompts))
        return real(engine, prompts, settings, **kwargs)

    monkeypatch.setattr(generation, "generate_batch", failing)
    out = tmp_path / "resumable"
    config = _scripted_config(out, characters=[], batch_size=4, max_new_tokens=5, samples=1)
    total = 11 * 5
    with pytest.raises(_Interrupt):
        run_audit(config, engine=tiny_engine, scorer=load_toxicity_scorer(environ={}))
    log_path = out / GENERATIONS_FILE
    kept = log_path.read_text("utf-8")
    assert len(kept.splitlines()) == sum(calls) == 8

    with pytest.raises(RoleplayError, match="--resume"):
        run_audit(config, engine=tiny_engine, scorer=load_toxicity_scorer(environ={}))
    with pytest.raises(RoleplayError, match="seed"):
        run_audit(
            _scripted_config(
                out, characters=[], batch_size=4, max_new_tokens=5, samples=1, seed=2, resume=True
            ),
            engine=tiny_engine,
            scorer=load_toxicity_scorer(environ={}),
        )

    resumed_prompts: list[int] = []

    def counting(engine: Any, prompts: list[str], settings: Any, **kwargs: Any) -> Any:
        resumed_prompts.append(len(prompts))
        return real(engine, prompts, settings, **kwargs)

    monkeypatch.setattr(generation, "generate_batch", counting)
    config.resume = True
    outcome = run_audit(config, engine=tiny_engine, scorer=load_toxicity_scorer(environ={}))
    assert sum(resumed_prompts) == total - 8  # nothing generated twice
    assert log_path.read_text("utf-8").startswith(kept)  # nothing lost or rewritten
    meta = outcome.results["metadata"]
    assert meta["replies"] == total and meta["generated_this_run"] == total - 8
    assert meta["resumed"]


def test_reply_log_drops_a_cut_off_last_line(tmp_path: Path) -> None:
    path = tmp_path / GENERATIONS_FILE
    path.write_text(
        '{"key": "a", "persona": "p", "dimension": "regard", "item": "i", "reply": "hi",'
        ' "new_tokens": 1, "stop_reason": "eos"}\n{"key": "b", "persona": "p", "dimen'
    )
    log = ReplyLog(path)
    assert list(log.load()) == ["a"]
    assert path.read_text().endswith("}\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--personas", "PERSONAS.csv"], "unknown format '.csv'"),
        (["--dimensions", "regard,toxcity"], "unknown dimension 'toxcity'"),
        (["--prompts", "PROMPTS"], "is empty"),
        (["--out", "FILE/sub"], "cannot write to --out"),
        (["--character", "nobody-at-all"], "unknown character"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    (tmp_path / "PERSONAS.csv").write_text("a pirate\n")
    (tmp_path / "PROMPTS").mkdir()
    (tmp_path / "PROMPTS" / "offensiveness.yaml").write_text("message: '{text}'\nitems: []\n")
    (tmp_path / "FILE").write_text("not a folder")
    placeholders = ("PERSONAS.csv", "PROMPTS", "FILE/sub")
    resolved = [str(tmp_path / a) if a in placeholders else a for a in arguments]
    out = ["--out", str(tmp_path / "out")] if "--out" not in arguments else []
    result = runner.invoke(app, ["audit", "--model", "/nonexistent-model", *out, *resolved])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


@pytest.mark.slow
def test_small_audit_on_the_default_model(tmp_path: Path, results_schema: dict[str, Any]) -> None:
    out = tmp_path / "real"
    result = runner.invoke(
        app,
        [
            "audit", "--quick", "--samples", "1",
            "--dimensions", "offensiveness,stereotype_agreement",
            "--max-new-tokens", "24", "--out", str(out),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    results = check_reports(out, results_schema, dimensions=2)
    assert results["metadata"]["model_id"].startswith("SmolLM2-135M-Instruct")
    assert results["metadata"]["replies"] == 11 * 2
    assert all(record["reply"] for record in results["examples"])
