"""The allocator tuning that keeps big tensor buffers in the process."""

from __future__ import annotations

import ctypes
import ctypes.util
import platform
import sys

import pytest

from roleplay import allocator
from roleplay.allocator import keep_freed_memory

ON_GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


class _MallInfo2(ctypes.Structure):
    """glibc's ``struct mallinfo2`` (malloc.h, glibc >= 2.33)."""

    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not hasattr(libc, "mallinfo2"):
        pytest.skip("mallinfo2 needs glibc 2.33 or newer")
    libc.mallinfo2.restype = _MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    return libc


@pytest.mark.skipif(not ON_GLIBC, reason="mallopt is glibc's")
def test_big_buffers_come_from_the_heap_after_tuning() -> None:
    """An 8 MiB block (an activation batch) is no longer its own mmap: freeing it keeps it."""
    assert keep_freed_memory() is True
    libc = _libc()
    mapped_before = libc.mallinfo2().hblks
    block = libc.malloc(8 * 1024 * 1024)
    assert block
    try:
        # glibc's default 128 KiB threshold would serve this with a fresh mmap (hblks + 1).
        assert libc.mallinfo2().hblks == mapped_before
    finally:
        libc.free(block)


def test_other_platforms_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    keep_freed_memory.cache_clear()
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    try:
        assert keep_freed_memory() is False
    finally:
        keep_freed_memory.cache_clear()


def test_a_libc_without_mallopt_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """musl and others: no mallopt, so no tuning and no error."""

    def no_libc(name: str) -> None:
        raise OSError(f"{name}: cannot open shared object file")

    keep_freed_memory.cache_clear()
    monkeypatch.setattr(allocator.sys, "platform", "linux")
    monkeypatch.setattr(allocator.ctypes, "CDLL", no_libc)
    try:
        assert keep_freed_memory() is False
    finally:
        keep_freed_memory.cache_clear()
