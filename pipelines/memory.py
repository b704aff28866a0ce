"""Giving memory a step has freed back to the system before the next step starts.

A run frees most of what a step built (per-school frames, the quarantine report's parts)
before the next one begins, but glibc's malloc keeps freed small blocks in the arena of
the thread that freed them. The plan step runs in the main thread and the deliveries in
the task runner's threads, each with an arena of its own, so the holes one step leaves are
of little use to the next, and what a step leaves grows with the number of schools: at
1,000 schools the process held 406 MB after the plan step and 362 MB once trimmed.
`malloc_trim(0)` returns the free pages of every arena, so each step starts from what is
still alive.

Elsewhere (macOS, musl) there is nothing to call and `give_back` only collects garbage.
"""

from __future__ import annotations

import ctypes
import gc
import sys
from collections.abc import Callable
from functools import cache

__all__ = ["give_back"]


def give_back() -> None:
    """Collect garbage, then return free heap pages to the system where malloc can."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim
