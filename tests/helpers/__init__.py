"""Shared test helpers (tiny models built in-process, no downloads)."""
