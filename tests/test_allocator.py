"""The allocator tuning that keeps big tensor buffers in the process."""

from __future__ import annotations

import platform
import sys

import pytest

from roleplay.allocator import keep_freed_memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="mallopt is glibc's",
)
def test_thresholds_are_set_on_glibc() -> None:
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # once per process, then cached
