"""The benchmark runner: marker blocks replaced exactly, every step resolvable, renderers
that work on realistic payloads (no model is loaded: payloads are built here)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import pytest

from benchmarks import run_all

TEXT = (
    "# Benchmarks\nprose before\n<!-- bench:a -->\nold table\n<!-- /bench:a -->\n"
    "prose between\n<!-- bench:b -->\n<!-- /bench:b -->\ntail\n"
)

# What benchmarks.common.machine() records, fixed so the tests need neither torch nor llama.cpp.
MACHINE = {
    "cpu": "AMD EPYC",
    "cpu_flags": ["avx", "avx2", "fma", "f16c"],
    "cores": 2,
    "python": "3.11.7",
    "torch": "2.13.0+cpu",
    "torch_threads": 2,
    "llama_cpp": {
        "version": "0.3.36",
        "system_info": "CPU : SSE3 = 1 | AVX = 1 | AVX2 = 1 | FMA = 1 | OPENMP = 1",
    },
    "load_average_1_5_15": [1.9, 1.5, 1.2],
    "load_average_at_write": 1.9,
    "written": "2026-12-04T05:00:00+00:00",
}
MACHINE_LINE = (
    "Machine: AMD EPYC, 2 cores (avx, avx2, fma, f16c); llama-cpp-python 0.3.36 "
    "(SSE3 AVX AVX2 FMA OPENMP)."
)


def test_a_block_is_replaced_and_everything_else_kept_byte_for_byte() -> None:
    replaced = run_all.replace_block(TEXT, "a", "| new |\n|---|\n")
    assert replaced == TEXT.replace("old table\n", "| new |\n|---|\n")
    assert run_all.replace_block(TEXT, "b", "x") == TEXT.replace(
        "<!-- bench:b -->\n<!-- /bench:b -->", "<!-- bench:b -->\nx\n<!-- /bench:b -->"
    )


@pytest.mark.parametrize(
    "text", ["no markers", "<!-- bench:a -->\n", "<!-- /bench:a -->\n<!-- bench:a -->\n"]
)
def test_missing_or_broken_markers_are_an_error(text: str) -> None:
    with pytest.raises(ValueError, match="bench:a"):
        run_all.replace_block(text, "a", "x")


def test_parts_go_to_their_own_markers_and_a_missing_one_writes_nothing() -> None:
    text = (
        "<!-- bench:a -->\nold\n<!-- /bench:a -->\nprose\n<!-- bench:a/t -->\n<!-- /bench:a/t -->\n"
    )
    rendered = "main table\n\n<!-- bench:a/t -->\nturns\n<!-- /bench:a/t -->\n"
    blocks = run_all.split_parts("a", rendered)
    assert blocks == {"a/t": "turns\n", "a": "main table\n"}
    assert run_all.replace_blocks(text, blocks) == (
        "<!-- bench:a -->\nmain table\n<!-- /bench:a -->\nprose\n"
        "<!-- bench:a/t -->\nturns\n<!-- /bench:a/t -->\n"
    )
    with pytest.raises(ValueError, match="bench:a/t"):
        run_all.replace_blocks(TEXT, blocks)
    with pytest.raises(ValueError, match="another step"):
        run_all.split_parts("b", rendered)


def test_the_write_is_atomic(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "BENCHMARKS.md"
    target.write_text("before")
    run_all.write_atomically(target, "after")
    assert target.read_text() == "after"

    def fail(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(run_all.os, "replace", fail)
    with pytest.raises(OSError):
        run_all.write_atomically(target, "lost")
    assert target.read_text() == "after"
    assert [p.name for p in tmp_path.iterdir()] == ["BENCHMARKS.md"]  # no temporary left


def test_every_step_has_a_renderer_and_its_markers_in_benchmarks_md() -> None:
    published = (run_all.ROOT / "BENCHMARKS.md").read_text(encoding="utf-8")
    assert len({step.name for step in run_all.STEPS}) == len(run_all.STEPS)
    for step in run_all.STEPS:
        module = importlib.import_module(f"benchmarks.{step.name}")
        assert callable(getattr(module, "main", None)), step.name
        assert callable(getattr(module, "markdown", None)), step.name
        assert published.count(f"<!-- bench:{step.name} -->") == 1, step.name
        assert published.count(f"<!-- /bench:{step.name} -->") == 1, step.name


def test_an_unknown_step_is_refused() -> None:
    assert run_all.main(["--only", "nope", "--list"]) == 2


def test_a_failing_step_is_reported_and_the_rest_still_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(run_all, "OUT_DIR", tmp_path)
    monkeypatch.setattr(run_all, "LOG_DIR", tmp_path / "logs")
    ran: list[str] = []

    def fake_run(step: run_all.Step, quick: bool, progress: Any, task: Any) -> Any:
        ran.append(step.name)
        return step.name != "memory_recall", 0.1, tmp_path / "log"

    monkeypatch.setattr(run_all, "run_step", fake_run)
    monkeypatch.setattr(run_all, "render", lambda step: f"| {step.name} |\n")
    assert run_all.main(["--only", "memory_recall,tui_startup", "--no-write"]) == 1
    assert ran == ["memory_recall", "tui_startup"]
    generated = (tmp_path / "BENCHMARKS.generated.md").read_text()
    assert "| tui_startup |" in generated and "memory_recall" not in generated


# Renderers: each gets the shape of JSON its script writes (with write_result's additions).


def _payload(**fields: Any) -> dict[str, Any]:
    return {"machine": MACHINE, "command": "python -m benchmarks.x", **fields}


def _turns(scale: float) -> list[dict[str, Any]]:
    return [
        {"turn": t, "prompt_tokens": 600 + 70 * t, "ttft_s": scale * t, "decode_tok_s": 70.0}
        for t in range(1, 11)
    ]


def _backends() -> dict[str, Any]:
    speed = {
        "model": "m",
        "file_bytes": 98_000_000,
        "prompt_tokens": 586,
        "decode_tok_s": {"bare": [72.0, 64.0, 78.0], "pipeline": [70.0, 69.0, 76.0]},
        "ttft_s": {"bare": [2.7, 2.5, 3.0], "pipeline": [2.6, 2.4, 2.9]},
        "decode_ratio_median": 0.97,
        "decode_ratio_95": [0.94, 1.11],
    }
    process = {"exit_code": 0, "peak_rss_bytes": 843_000_000, "data_dir_bytes": 480_000}
    return _payload(
        speed={"default SmolLM2-135M Q4_1": speed},
        process={"default SmolLM2-135M Q4_1": [process, process]},
        turns={"default, llama.cpp, system layout": [_turns(0.5), _turns(0.6)]},
        warm_start_s=[0.84, 0.86],
        load_average=[0.9, 1.9],
        threads=2,
    )


def _served(ttft: float) -> dict[str, Any]:
    return {"ttft": ttft, "decode": 85.0, "engine_ttft": ttft - 0.01, "engine_decode": 88.0}


def _serve() -> dict[str, Any]:
    rounds: dict[str, Any] = {"wall_s": 12.1, "tokens": 220, "tok_s": 18.1, "complete": True}
    rounds |= {"ttft_s": [2.3, 8.1, 5.4, 11.3], "texts": ["a", "b", "c", "d"]}
    run = {
        "threads": 2,
        "model": "m",
        "runs": {"in-process": [_served(2.4), _served(2.3)], "served": [_served(2.5)] * 2},
        "same_text": 2,
        "concurrent": [rounds, rounds],
        "sequential": [rounds, rounds],
        "load_average": [1.1, 1.6],
    }
    return _payload(
        repeats=2, tokens=64, clients=4, by_threads={"2": run, "1": run}, load_average=[1, 2]
    )


def _memory_speed() -> dict[str, Any]:
    recall: dict[str, Any] = {"n": 100}
    for kind in ("chat_turn", "separate_mood"):
        for q in (50, 95):
            recall[f"{kind}_p{q}_ms"] = 8.0 + q / 50
            recall[f"{kind}_p{q}_ms_95"] = [7.5, 9.5 + q / 50]
    stage = {"size": 1000, "ingest_per_s": 483.0, "ingest_chunk_per_s": [470.0, 500.0]}
    return _payload(
        default_strategy="c-a",
        encoder_precision="float32",
        queries_per_strategy=100,
        load_average=[0.7, 2.0],
        stages=[{**stage, "added": 1000, "recall": {"c-a": recall}}],
    )


def _memory_encoders() -> dict[str, Any]:
    def precision(rates: list[float], cosine: float) -> dict[str, Any]:
        return {
            "texts_per_s_best": max(rates),
            "texts_per_s_median": sorted(rates)[1],
            "texts_per_s_runs": rates,
            "cosine_to_float32_min": cosine,
            "cosine_to_float32_mean": cosine,
            "alone_vs_batched_cosine_min": 1.0,
        }

    return _payload(
        texts=2048,
        repeats=3,
        load_average=[0.8, 1.5],
        precisions={
            "float32": precision([300.0, 305.0, 310.0], 1.0),
            "bfloat16": precision([510.0, 521.0, 530.0], 0.99992),
        },
    )


def _memory_recall() -> dict[str, Any]:
    row = {"hit_at_1": 0.93, "n": 256, "ci95_wilson": [0.892, 0.955]}
    return _payload(
        date="2026-12-04T04:05:40+00:00",
        encoder_precision="float32",
        default_strategy="c-a",
        hit_at_1={"c-a: topic, mood from text": {"dev": row, "test": row}},
        load_average=[0.45, 1.0],
    )


def _tui() -> dict[str, Any]:
    terminal = {"first_frame_runs_s": [0.34, 0.35, 0.36], "characters_runs_s": [0.5, 0.53, 0.6]}
    headless = {
        "first_frame_runs_s": [0.28, 0.29, 0.3],
        "cpu_runs_s": [0.2, 0.21, 0.22],
        "heavy_modules_at_first_frame": [],
    }
    return _payload(
        terminal_size=[100, 30],
        repeats=3,
        load_average=[1.0, 1.1],
        results={"python -m tui": terminal, "roleplay tui": terminal, "headless": headless},
    )


def _audit_batching() -> dict[str, Any]:
    rows = [
        {"variant": "one at a time", "batch_size": 1, "seconds": 40.0, "seconds_runs": [40.0]},
        {"variant": "b8", "batch_size": 8, "seconds": 9.6, "speedup_runs": [4.1, 4.2, 4.3]},
        {"variant": "b16", "batch_size": 16, "seconds": 7.3, "speedup_runs": [5.4, 5.5, 5.6]},
    ]
    return _payload(
        model="m",
        precision="float32",
        prompts=16,
        new_tokens=32,
        repeats=3,
        rows=rows,
        identical_to_single={"8": 16, "16": 16},
        load_average=[1.0, 1.2],
    )


def _audit_run() -> dict[str, Any]:
    run = {
        "exit_code": 0,
        "seconds": 57.0,
        "peak_rss_bytes": 1_600_000_000,
        "load_average": [1.0, 1.2],
        "replies": 165,
        "flagged": 0,
    }
    return _payload(runs={"quick": [run, run, run], "full": [run]}, load_average=[1.0, 1.2])


def _chat_turns() -> dict[str, Any]:
    return _payload(turns=_turns(0.5), conversations=[_turns(0.5)], load_average=[0.8, 1.2])


RENDERED = {
    "backends": (_backends, "| default SmolLM2-135M Q4_1 | 3 | 72.0 [64.0, 78.0] |"),
    "serve_speed": (_serve, "| TTFT ms | 2 | 2350 [2300, 2400] | 2500 [2500, 2500] |"),
    "memory_speed": (_memory_speed, "| 1k | 483 [470, 500] | 100 | 9.0 [7.5, 10.5] / "),
    "memory_encoders": (_memory_encoders, "| bfloat16 | 3 | 521 [510, 530] | 1.71 ["),
    "memory_recall": (_memory_recall, "0.930 [0.892, 0.955] (n = 256)"),
    "tui_startup": (_tui, "| 1.0 -> 1.1 | 3 | 0.350 [0.340, 0.360] s |"),
    "audit_batching": (_audit_batching, "| float32 | 3 | 4.20 [4.10, 4.30]x | 5.50 [5.40, "),
    "audit_run": (_audit_run, "| `--quick` | 3 | 165 | **57 [57, 57]** | 1.0-1.2 | 1.60 [1.60,"),
    "chat_turns": (_chat_turns, "| TTFT s | 0.50 [0.50, 0.50] | 1.00 [1.00, 1.00] |"),
}


@pytest.mark.parametrize("name", sorted(RENDERED))
def test_each_renderer_starts_with_the_machine_line_and_gives_n(name: str) -> None:
    build, expected_row = RENDERED[name]
    block = importlib.import_module(f"benchmarks.{name}").markdown(build())
    assert block.startswith(MACHINE_LINE), block.splitlines()[0]
    first = block.splitlines()[0]
    assert "Date " in first and "load " in first and "`python -m benchmarks.x`" in first
    assert "| n |" in block or "n = " in block
    assert expected_row in block, block


def test_the_backends_and_serve_parts_carry_their_own_markers() -> None:
    from benchmarks import backends, serve_speed

    parts = run_all.split_parts("backends", backends.markdown(_backends()))
    assert set(parts) == {"backends", "backends/process", "backends/turns", "backends/warm_start"}
    assert "| default SmolLM2-135M Q4_1 | 2 | 98 MB | 843 [843, 843] |" in parts["backends/process"]
    assert "**5.00 [5.00, 5.00]**" in parts["backends/turns"]  # turn 10 / turn 2, per chat
    parts = run_all.split_parts("serve_speed", serve_speed.markdown(_serve()))
    assert set(parts) == {"serve_speed", "serve_speed/threads"}
    assert "| 4 clients at once | 2 | 12.10 [12.10, 12.10] |" in parts["serve_speed"]
    assert parts["serve_speed/threads"].count("| 2 (1.1 -> 1.6) | 2 |") == 1
    # A result with the every-token server shows its ratios; an older one shows "-" there.
    assert parts["serve_speed/threads"].rstrip().endswith("| - | - |")
    payload = _serve()
    per_token = [{**_served(2.5), "decode": 76.5, "engine_decode": 79.2}] * 2
    payload["by_threads"]["2"]["runs"]["served, every token"] = per_token
    threads = run_all.split_parts("serve_speed", serve_speed.markdown(payload))
    assert "| x0.900 [0.900, 0.900] | x0.900 [0.900, 0.900] |" in threads["serve_speed/threads"]


def test_the_audit_table_states_what_the_last_full_run_found() -> None:
    from benchmarks import audit_run

    payload = _audit_run()
    finding = {
        "tests": 200,
        "flagged": 1,
        "harmful_difference_macro": 0.0239,
        "power_notes": {"toxicity": "Low power: a persona at 60 % goes unnoticed."},
    }
    payload["runs"]["full"] = [{**payload["runs"]["full"][0], **finding}]
    rendered = audit_run.markdown(payload)
    assert "full default audit: 200 tests, 1 flagged, macro harmful difference 0.0239" in rendered
    assert "- toxicity: Low power: a persona at 60 % goes unnoticed." in rendered
    assert "`--quick`: " not in rendered  # runs from before the findings were kept: no line
