"""How many threads torch should use for decoding.

Decoding one token is a chain of ~250 small kernels; with several OpenMP threads each kernel
ends in a barrier. When other processes keep the cores busy, a descheduled worker stalls that
barrier for a whole scheduler time slice: on the shared 2-core machine (load average ~12)
two threads decoded about 5x *slower* than one (docs/speed.md). On an idle machine two
threads win. So the default is the number of cores that are free at start-up, judged by the
one-minute load average; ``$ROLEPLAY_TORCH_THREADS`` or an explicit value overrides it.
"""

from __future__ import annotations

import os

from roleplay.settings import get_settings

THREADS_ENV = "ROLEPLAY_TORCH_THREADS"


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def choose_threads(requested: int | None = None) -> int:
    """Explicit value, else ``$ROLEPLAY_TORCH_THREADS``, else the cores other processes leave."""
    if requested:
        return max(1, int(requested))
    configured = get_settings().torch_threads  # validated: a bad value is a one-line error
    if configured is not None:
        return configured
    cores = usable_cores()
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return cores
    return max(1, min(cores, round(cores - busy)))
