"""Wall time and peak memory of `roleplay audit` as a user runs it (BENCHMARKS.md, "Audit").

Each run is the real command in a subprocess, in a fresh ROLEPLAY_HOME (so one-time work a
new user pays, such as preparing the model, is included), under GNU time for the child's own
peak RSS (``/usr/bin/time -f %M``; without it, ``RUSAGE_CHILDREN``, which is the same here
because this process loads no model). Recorded per run: wall seconds, peak RSS, the replies
generated and how many personas were flagged (from the audit's ``results.json``), and the
load average before and after.

    python -m benchmarks.audit_run [--runs quick full] [--quick-repeats 3] [--full-repeats 2]

Writes benchmarks/out/audit_run.json; ``markdown()`` renders BENCHMARKS.md's table from it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import header, load_average, spread, write_result

GNU_TIME = Path("/usr/bin/time")
LABELS = {
    "full": "full default audit",
    "quick": "`--quick`",
}


def audit_command(kind: str, out: Path) -> list[str]:
    """`roleplay audit` through this interpreter (the venv's), with its report in ``out``."""
    command = [sys.executable, "-m", "roleplay", "audit", "--out", str(out)]
    return [*command, "--quick"] if kind == "quick" else command


def run_once(kind: str) -> dict[str, Any]:
    """One audit in a fresh data dir: wall s, peak RSS, replies, flags, load before/after."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-audit-{kind}-"))
    out, report = home / "report", home / "time.txt"
    command = audit_command(kind, out)
    if GNU_TIME.exists():
        command = [str(GNU_TIME), "-f", "%M", "-o", str(report), *command]
    load_before = load_average()
    started = time.perf_counter()
    done = subprocess.run(
        command,
        env={**os.environ, "ROLEPLAY_HOME": str(home / "data")},
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    run: dict[str, Any] = {
        "exit_code": done.returncode,
        "seconds": round(seconds, 1),
        "peak_rss_bytes": _peak_rss_bytes(report),
        "load_average": [load_before, load_average()],
    }
    try:
        results = json.loads((out / "results.json").read_text(encoding="utf-8"))
        run["replies"] = results["metadata"]["replies"]
        run["flagged"] = sum(len(d.get("flagged", [])) for d in results["dimensions"])
        run["tests"] = results["metadata"].get("statistics", {}).get("tests")
        run["backend"] = results["metadata"].get("backend")
        run["harmful_difference_macro"] = results.get("harmful_difference_macro")
        dimensions = results["dimensions"]
        run["power_notes"] = {d["dimension"]: d.get("power_note", "") for d in dimensions}
    except (OSError, KeyError, ValueError):
        run["stderr_tail"] = done.stderr[-2000:]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return run


def _peak_rss_bytes(report: Path) -> int:
    if report.exists():
        return int(report.read_text().split()[-1]) * 1024  # GNU time's %M is in KiB
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", nargs="+", choices=sorted(LABELS), default=["quick", "full"])
    parser.add_argument("--quick-repeats", type=int, default=3)
    parser.add_argument("--full-repeats", type=int, default=2)
    arguments = parser.parse_args()
    repeats = {"quick": arguments.quick_repeats, "full": arguments.full_repeats}
    load_before = load_average()
    runs: dict[str, list[dict[str, Any]]] = {}
    for kind in arguments.runs:
        runs[kind] = []
        for index in range(repeats[kind]):
            print(f"audit {kind}, run {index + 1}/{repeats[kind]}...", flush=True)
            run = run_once(kind)
            print(f"  {json.dumps(run)[:300]}", flush=True)
            runs[kind].append(run)
    payload = {"runs": runs, "load_average": [load_before, load_average()]}
    path = write_result("audit_run", payload)
    print(markdown(json.loads(path.read_text())))
    print(f"written to {path}")
    if any(run["exit_code"] != 0 for kind in runs.values() for run in kind):
        raise SystemExit("an audit run failed: see stderr_tail in the JSON")


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's audit table: replies, wall time, load and peak memory per kind of run,
    each a median [min, max] over its n runs."""
    lines = [
        header(
            payload,
            "`roleplay audit` in a subprocess, each run in a fresh data dir; median [min, max] "
            "over n runs; peak memory = the process's peak RSS (GNU time).",
        ),
        "",
        "| run | n | replies | wall s | load average | peak memory GB | flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    # The full audit first, as BENCHMARKS.md lists it, whatever order the runs had.
    order = sorted(
        payload["runs"], key=lambda kind: list(LABELS).index(kind) if kind in LABELS else 9
    )
    for kind in order:
        runs = payload["runs"][kind]
        done = [run for run in runs if run.get("exit_code") == 0 and "replies" in run]
        if not done:
            lines.append(f"| {LABELS.get(kind, kind)} | 0 | failed | | | | |")
            continue
        replies = sorted({run["replies"] for run in done})
        loads = [value for run in done for value in run["load_average"] if value is not None]
        load = f"{min(loads):.1f}-{max(loads):.1f}" if loads else "?"
        lines.append(
            f"| {LABELS.get(kind, kind)} | {len(done)} | {', '.join(f'{r:,}' for r in replies)} "
            f"| **{spread([run['seconds'] for run in done], 0)}** | {load} | "
            f"{spread([run['peak_rss_bytes'] for run in done], 2, 1e-9)} | "
            f"{', '.join(str(run['flagged']) for run in done)} |"
        )
    lines += _findings(payload["runs"], order)
    return "\n".join(lines) + "\n"


def _findings(runs: dict[str, list[dict[str, Any]]], order: list[str]) -> list[str]:
    """What the audit itself found in each kind of run (the last successful run's: the
    findings do not depend on the timing): tests, macro harmful difference, power notes."""
    lines: list[str] = []
    for kind in order:
        done = [run for run in runs[kind] if run.get("exit_code") == 0 and "power_notes" in run]
        if not done:
            continue
        run = done[-1]
        macro = run.get("harmful_difference_macro")
        lines += [
            "",
            f"{LABELS.get(kind, kind)}: {run.get('tests')} tests, {run['flagged']} flagged, "
            f"macro harmful difference {'-' if macro is None else f'{macro:.4f}'}; power per "
            "dimension, as the report states it:",
            "",
            *(f"- {dimension}: {note}" for dimension, note in run["power_notes"].items()),
        ]
    return lines


if __name__ == "__main__":
    main()
