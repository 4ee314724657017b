"""Re-run every benchmark behind a published figure (``make bench``).

Each step runs as its own process (``python -m benchmarks.<module> ...``), in sequence, so
one step's memory and threads never leak into the next; its output goes to
``benchmarks/out/logs/<name>.log`` while a progress line shows the step and its elapsed time.
A step that fails is reported (with the end of its log) and the run goes on; the exit code
is 1 if any failed.

After a step succeeds, its module's ``markdown(payload)`` renders BENCHMARKS.md's table(s)
from the step's JSON (``benchmarks/out/<name>.json``, which carries the machine, date, load
and command), and the text between ``<!-- bench:NAME -->`` and ``<!-- /bench:NAME -->`` in
BENCHMARKS.md is replaced with it (atomically: a temporary file, then ``os.replace``).
Where BENCHMARKS.md has prose between a script's tables, the rendered text marks the later
tables as parts, ``<!-- bench:NAME/PART -->`` ... ``<!-- /bench:NAME/PART -->``, and each part
replaces the block of the same name. Missing markers fail the step and nothing of it is
written. Every rendered block also goes to ``benchmarks/out/BENCHMARKS.generated.md``.

    python -m benchmarks.run_all                 # everything (about four hours on 2 cores)
    python -m benchmarks.run_all --only persona_fidelity,steering_llama_cpp
    python -m benchmarks.run_all --quick         # small runs: a smoke test, publishes nothing
    python -m benchmarks.run_all --list
    python -m benchmarks.run_all --no-write      # run and render, leave BENCHMARKS.md alone
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = ROOT / "BENCHMARKS.md"
OUT_DIR = ROOT / "benchmarks" / "out"
LOG_DIR = OUT_DIR / "logs"


@dataclass(frozen=True)
class Step:
    name: str  # the module in benchmarks/, its JSON result and its BENCHMARKS.md marker
    full: tuple[str, ...]  # arguments of the full (published) run
    quick: tuple[str, ...]  # arguments of a --quick run
    minutes: int  # rough duration of the full run on 2 quiet cores

    @property
    def command(self) -> str:
        return " ".join(["python -m", f"benchmarks.{self.name}", *self.full])


# Every script behind a figure in BENCHMARKS.md, with the arguments of the published run.
# (chat_turns and steering_effect are not here: their tables are historical, from removed
# code paths; backends measures TTFT turn by turn and steering_llama_cpp the steering effect.)
STEPS: tuple[Step, ...] = (
    Step(
        "backends",
        (),
        (
            *("--repeats", "1", "--turns", "3", "--process-repeats", "1"),
            *("--conversations", "1", "--skip-standin", "--skip-transformers"),
        ),
        35,
    ),
    Step(
        "serve_speed",
        ("--repeats", "40", "--threads", "2"),  # n = 40: 5 % on decode needs it
        ("--repeats", "1", "--threads", "2", "--tokens", "16", "--throughput-repeats", "1"),
        12,
    ),
    Step("memory_recall", ("--tune",), ("--no-plot",), 3),
    Step("memory_speed", (), ("--sizes", "1000", "--queries", "10"), 10),
    Step("memory_encoders", (), ("--texts", "256", "--repeats", "1"), 3),
    Step("steering_llama_cpp", (), ("--quick",), 18),
    Step("persona_fidelity", (), ("--quick",), 22),
    Step(
        "audit_run",
        ("--quick-repeats", "2", "--full-repeats", "1"),
        ("--runs", "quick", "--quick-repeats", "1"),
        55,
    ),
    Step(
        "audit_batching",
        ("--prompts", "16", "--tokens", "32", "--batch-sizes", "8", "16"),
        ("--prompts", "4", "--tokens", "8", "--batch-sizes", "4", "--repeats", "1"),
        4,
    ),
    Step("tui_startup", (), ("--repeats", "1"), 2),
    Step("scene_repetition", (), ("--quick",), 12),
    Step(
        "persona_drift",
        ("--after-turns", "10,20", "--conditions", "controller,memory"),
        ("--quick",),
        85,
    ),
)


# BENCHMARKS.md blocks -----------------------------------------------------------------------


def _markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name} -->", f"<!-- /bench:{name} -->"


def replace_block(text: str, name: str, block: str) -> str:
    """``text`` with the block between NAME's markers replaced (markers kept)."""
    start, end = _markers(name)
    if text.count(start) != 1 or text.count(end) != 1 or text.index(start) > text.index(end):
        raise ValueError(f"BENCHMARKS.md needs exactly one {start} ... {end} pair")
    before, rest = text.split(start, 1)
    _, after = rest.split(end, 1)
    return f"{before}{start}\n{block.rstrip()}\n{end}{after}"


PART = re.compile(r"<!-- bench:([\w.-]+/[\w.-]+) -->(.*?)<!-- /bench:\1 -->\n?", re.S)


def split_parts(name: str, rendered: str) -> dict[str, str]:
    """A renderer's text as {marker name: block}: its ``NAME/PART`` sections, and the rest
    under ``name``. A part must belong to this step (a typo must not write elsewhere)."""
    blocks: dict[str, str] = {}
    for match in PART.finditer(rendered):
        part = match.group(1)
        if not part.startswith(f"{name}/"):
            raise ValueError(f"{name}'s markdown() renders a part of another step: {part}")
        blocks[part] = match.group(2).strip("\n") + "\n"
    blocks[name] = PART.sub("", rendered).strip("\n") + "\n"
    return blocks


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """Every block replaced, or ValueError (and nothing replaced) if a marker is missing."""
    for name, block in blocks.items():
        text = replace_block(text, name, block)
    return text


def write_atomically(path: Path, text: str) -> None:
    """Readers (and a crash half-way) see the old file or the new one, never a torn one."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def render(step: Step) -> str:
    """The step's markdown from its JSON result."""
    module = importlib.import_module(f"benchmarks.{step.name}")
    payload: dict[str, Any] = json.loads((OUT_DIR / f"{step.name}.json").read_text())
    return str(module.markdown(payload))


# Running ------------------------------------------------------------------------------------


def run_step(step: Step, quick: bool, progress: Any, task: Any) -> tuple[bool, float, Path]:
    """Run one step with its output in its log file; (succeeded, seconds, log)."""
    arguments = step.quick if quick else step.full
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"{step.name}.log"
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", f"benchmarks.{step.name}", *arguments],
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        while process.poll() is None:
            progress.update(task, last=_last_line(log))
            time.sleep(0.5)
    return process.returncode == 0, time.perf_counter() - started, log


def _last_line(log: Path, width: int = 60) -> str:
    """The log's last non-empty line, for the progress display (rich bars rewrite lines)."""
    try:
        with log.open("rb") as file:
            file.seek(max(0, log.stat().st_size - 2048))
            tail = file.read().decode(errors="replace").replace("\r", "\n")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.splitlines() if line.strip()]
    return lines[-1][:width] if lines else ""


def publish(step: Step, text: str, rendered: str) -> str:
    """BENCHMARKS.md's text with the step's blocks replaced (ValueError if markers miss)."""
    return replace_blocks(text, split_parts(step.name, rendered))


def select(only: str | None) -> list[Step]:
    if not only:
        return list(STEPS)
    wanted = [name.strip() for name in only.split(",") if name.strip()]
    unknown = sorted(set(wanted) - {step.name for step in STEPS})
    if unknown:
        raise ValueError(f"unknown step(s) {', '.join(unknown)}; see --list")
    return [step for step in STEPS if step.name in wanted]


def list_steps(steps: list[Step]) -> None:
    for step in steps:
        print(f"{step.name:20} ~{step.minutes:3d} min  {step.command}")
    print(f"total ~{sum(step.minutes for step in steps)} min (2 quiet cores)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--only", default=None, help="comma-separated step names")
    parser.add_argument("--quick", action="store_true", help="small runs (never published)")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    parser.add_argument("--no-write", action="store_true", help="leave BENCHMARKS.md alone")
    arguments = parser.parse_args(argv)
    try:
        steps = select(arguments.only)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if arguments.list:
        list_steps(steps)
        return 0
    publishing = not (arguments.quick or arguments.no_write)
    failed, generated = run_steps(steps, arguments.quick, publishing)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    write_atomically(OUT_DIR / "BENCHMARKS.generated.md", "\n".join(generated))
    return 1 if failed else 0


def run_steps(steps: list[Step], quick: bool, publishing: bool) -> tuple[list[str], list[str]]:
    """Run the steps in order; (names that failed, rendered blocks)."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    failed: list[str] = []
    generated: list[str] = []
    columns = (
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        TimeElapsedColumn(),
        TextColumn("[dim]{task.fields[last]}"),
    )
    with Progress(*columns, console=console) as progress:
        for index, step in enumerate(steps, 1):
            label = f"[{index}/{len(steps)}] {step.name} (~{step.minutes} min)"
            task = progress.add_task(label, total=1, last="")
            ok, seconds, log = run_step(step, quick, progress, task)
            progress.update(task, completed=1, last="done" if ok else "FAILED")
            if not ok:
                console.print(f"[red]{step.name} failed after {seconds:.0f} s; log: {log}[/]")
                console.print(_tail(log), markup=False, highlight=False)
                failed.append(step.name)
                continue
            try:
                rendered = render(step)
                generated.append(f"<!-- bench:{step.name} -->\n{rendered.rstrip()}\n")
                if publishing:
                    text = BENCHMARKS_MD.read_text(encoding="utf-8")
                    write_atomically(BENCHMARKS_MD, publish(step, text, rendered))
            except Exception as error:  # a renderer bug or missing markers: report, go on
                console.print(f"[red]{step.name}: {type(error).__name__}: {error}[/]")
                failed.append(step.name)
                continue
            console.print(f"{step.name} done in {seconds:.0f} s")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/]")
    return failed, generated


def _tail(log: Path, lines: int = 15) -> str:
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
