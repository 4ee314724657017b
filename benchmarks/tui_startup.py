"""Cold start of the TUI: from launching the process to its first frame.

Two measurements, each repeated (median reported):

* ``terminal``: the real command in a pseudo-terminal (100x30), timed from ``fork`` to
  ``first_frame``: the first screen paint (the picker's layout with its "Characters" title),
  and to ``characters``: the first card's name on screen (cards are read right after the
  first frame). Done for ``python -m tui`` and for ``roleplay tui`` (which also loads the
  core CLI and its plugins).
* ``headless``: the app in a fresh interpreter, headless, stopped at the first frame; it also
  records which heavy libraries were imported by then (none of torch, transformers, chromadb
  may be: the model loads on a background thread, after the first frame).

A new, empty ROLEPLAY_HOME is used for every run, so no session or user card is read.

    python -m benchmarks.tui_startup [--repeats 5]

Writes benchmarks/out/tui_startup.json; ``markdown()`` renders BENCHMARKS.md's table from it
(median [min, max] over the repeats).
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import pty
import select
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path
from typing import Any

from benchmarks.common import header, load_average, load_pair, median, spread, write_result

REPO_ROOT = Path(__file__).resolve().parents[1]
FIRST_FRAME = b"Characters"  # the picker's border title, part of the first paint
CHARACTERS = b"Elias Thorne"  # the first bundled card, listed once the cards are read
TIMEOUT_S = 20.0
HEAVY = ("torch", "transformers", "chromadb")

# Runs in a fresh interpreter: the app, stopped right after its first frame.
HEADLESS_PROBE = """
import json, resource, sys, time
started = time.time()
from tui.app import RoleplayApp

class Probe(RoleplayApp):
    def _after_first_frame(self) -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.exit({"first_frame_wall": time.time(),
                   "cpu_s": usage.ru_utime + usage.ru_stime,
                   "heavy": [m for m in %r if m in sys.modules]})

result = Probe().run(headless=True, size=(100, 30))
print(json.dumps({**result, "interpreter_ready_wall": started}))
"""


def _environment(home: Path) -> dict[str, str]:
    environment = dict(os.environ)
    environment.update(
        ROLEPLAY_HOME=str(home),
        TERM="xterm-256color",
        COLUMNS="100",
        LINES="30",
    )
    return environment


def time_in_terminal(command: list[str]) -> tuple[float, float]:
    """Seconds from fork to the first frame and to the listed characters, on a 100x30 pty."""
    home = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the app
        os.chdir(REPO_ROOT)
        os.execvpe(command[0], command, _environment(home))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    seen = b""
    first_frame = characters = float("nan")
    try:
        while time.perf_counter() - started < TIMEOUT_S:
            ready, _, _ = select.select([fd], [], [], 0.01)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
            now = time.perf_counter() - started
            if first_frame != first_frame and FIRST_FRAME in seen:
                first_frame = now
            if CHARACTERS in seen:
                characters = now
                break
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        os.close(fd)
        shutil.rmtree(home, ignore_errors=True)
    if characters != characters:  # NaN: never got there
        raise RuntimeError(f"{' '.join(command)}: no picker within {TIMEOUT_S} s")
    return first_frame, characters


def time_headless() -> tuple[float, float, list[str]]:
    """Wall seconds to the first frame, CPU seconds used by then, heavy modules imported."""
    home = Path(tempfile.mkdtemp(prefix="tui-bench-"))
    try:
        launched = time.time()
        output = subprocess.run(
            [sys.executable, "-c", HEADLESS_PROBE % (HEAVY,)],
            capture_output=True,
            text=True,
            check=True,
            cwd=REPO_ROOT,
            env=_environment(home),
            timeout=TIMEOUT_S,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    record = json.loads(output.stdout.strip().splitlines()[-1])
    return record["first_frame_wall"] - launched, record["cpu_s"], record["heavy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    roleplay = shutil.which("roleplay", path=str(Path(sys.executable).parent))
    commands = {"python -m tui": [sys.executable, "-m", "tui"]}
    if roleplay:
        commands["roleplay tui"] = [roleplay, "tui"]

    load_before = load_average()
    results: dict[str, dict[str, object]] = {}
    for name, command in commands.items():
        time_in_terminal(command)  # warm the file cache: "cold" means a new process
        runs = [time_in_terminal(command) for _ in range(arguments.repeats)]
        frames = [frame for frame, _ in runs]
        listed = [characters for _, characters in runs]
        results[name] = {
            "first_frame_median_s": round(median(frames), 3),
            "first_frame_runs_s": [round(r, 3) for r in frames],
            "characters_median_s": round(median(listed), 3),
            "characters_runs_s": [round(r, 3) for r in listed],
        }
        print(
            f"{name:>14}: first frame {median(frames):.3f} s, characters listed "
            f"{median(listed):.3f} s (medians of {len(runs)})"
        )

    headless = [time_headless() for _ in range(arguments.repeats)]
    heavy = sorted({module for _, _, modules in headless for module in modules})
    walls = [seconds for seconds, _, _ in headless]
    cpu = [seconds for _, seconds, _ in headless]
    results["headless"] = {
        "first_frame_median_s": round(median(walls), 3),
        "first_frame_runs_s": [round(r, 3) for r in walls],
        # CPU time is what start-up costs; wall time also shows how busy the machine was.
        "cpu_median_s": round(median(cpu), 3),
        "cpu_runs_s": [round(r, 3) for r in cpu],
        "heavy_modules_at_first_frame": heavy,
    }
    print(
        f"{'headless':>14}: first frame {median(walls):.3f} s (CPU {median(cpu):.3f} s); "
        f"heavy imports: {heavy or 'none'}"
    )
    load = [load_before, load_average()]
    print(f"load average: {load[0]} -> {load[1]} on {os.cpu_count()} cores")

    path = write_result(
        "tui_startup",
        {
            "terminal_size": [100, 30],
            "repeats": arguments.repeats,
            "load_average": load,
            "results": results,
        },
    )
    print(f"wrote {path}")
    if heavy:
        raise SystemExit(f"heavy libraries imported before the first frame: {heavy}")


def markdown(payload: dict[str, Any]) -> str:
    """BENCHMARKS.md's TUI cold-start table from this script's JSON result."""
    results = payload["results"]
    columns = [
        ("`python -m tui` first frame", "python -m tui", "first_frame_runs_s"),
        ("`roleplay tui` first frame", "roleplay tui", "first_frame_runs_s"),
        ("characters listed (`python -m tui`)", "python -m tui", "characters_runs_s"),
        ("headless first frame", "headless", "first_frame_runs_s"),
        ("headless CPU", "headless", "cpu_runs_s"),
    ]
    cells = []
    for _, name, key in columns:
        runs = results.get(name, {}).get(key)
        cells.append(f"{spread(runs, 3)} s" if runs else "-")
    heavy = results.get("headless", {}).get("heavy_modules_at_first_frame", [])
    width, height = payload.get("terminal_size", [100, 30])
    before, after = load_pair(payload)
    load = "?" if before is None else f"{before:.1f} -> {after:.1f}"
    return (
        "\n".join(
            [
                header(
                    payload,
                    f"{width}x{height} pseudo-terminal, from fork to the first paint; median "
                    f"[min, max] over n = {payload['repeats']} starts after one that warms the "
                    "file cache. "
                    f"Heavy imports before the first frame: {', '.join(heavy) or 'none'}.",
                ),
                "",
                "| load average | n | " + " | ".join(title for title, _, _ in columns) + " |",
                "|---|---|" + "---|" * len(columns),
                f"| {load} | {payload['repeats']} | " + " | ".join(cells) + " |",
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
