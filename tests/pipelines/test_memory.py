"""Giving freed memory back between a run's steps (pipelines.memory)."""

from __future__ import annotations

import platform
import sys

import pytest

from pipelines import memory


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
    reason="malloc_trim is glibc's",
)
def test_on_glibc_the_heap_is_trimmed() -> None:
    trim = memory._malloc_trim()
    assert trim is not None
    assert trim(0) in (0, 1)  # 1: memory was released, 0: there was none to release


def test_elsewhere_it_only_collects_garbage(monkeypatch: pytest.MonkeyPatch) -> None:
    memory._malloc_trim.cache_clear()
    monkeypatch.setattr(memory.sys, "platform", "darwin")
    try:
        assert memory._malloc_trim() is None
        memory.give_back()
    finally:
        memory._malloc_trim.cache_clear()
