"""Keep freed tensor memory in the process instead of handing it back to the OS each time.

glibc serves allocations above a (dynamic) threshold with fresh ``mmap`` pages and returns
them on ``free``; the next tensor of that size then page-faults its way in again. Encoding
batches allocates and frees megabyte-sized activations hundreds of times a second, and
whether glibc had raised its threshold decided between 350 and 640 texts/s for the int8
encoder in otherwise identical processes (bfloat16: 455 vs 505). Fixing the thresholds makes
the fast case the only case; PyTorch's CPU tuning guide suggests the same (or jemalloc).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

# mallopt parameter numbers from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
# glibc's largest allowed mmap threshold on 64-bit (DEFAULT_MMAP_THRESHOLD_MAX).
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 1024 * 1024 * 1024


@lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds once per process; False where not glibc."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False  # musl and others: no mallopt, nothing to tune
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)) and bool(
        mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES)
    )
