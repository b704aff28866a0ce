"""Builds a drop from the kind and settings a supplier agreement names."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from connectors.drops.base import Drop
from connectors.drops.folder import FolderDrop
from connectors.drops.memory import MemoryDrop
from connectors.errors import ConfigurationError

__all__ = ["DROPS", "get_drop", "known_drops"]

# Adding a drop ("sftp") is one line here plus its module.
DROPS: dict[str, Callable[..., Drop]] = {
    "folder": FolderDrop,
    "memory": MemoryDrop,
}


def known_drops() -> tuple[str, ...]:
    """Return the registered drop kinds, sorted."""
    return tuple(sorted(DROPS))


def get_drop(kind: str, **kwargs: Any) -> Drop:
    """Return a new drop of the given kind, built from `kwargs`.

    Args:
        kind: the drop kind, e.g. "folder".
        **kwargs: the drop's settings, e.g. `root=Path("drop")` for a folder drop.

    Returns:
        The drop.

    Raises:
        ConfigurationError: no drop has that kind (the message lists the known ones), or
            the settings do not fit it (the message lists the ones it takes).
    """
    try:
        factory = DROPS[kind]
    except (KeyError, TypeError):
        raise ConfigurationError(
            f"unknown drop kind {kind!r}; known kinds: {', '.join(known_drops())}"
        ) from None
    signature = inspect.signature(factory)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(signature.parameters) or "none"
        raise ConfigurationError(
            f"drop {kind!r} cannot be built from settings "
            f"{', '.join(sorted(kwargs)) or '(none)'}: {exc}; it takes: {accepted}"
        ) from None
    return factory(**kwargs)
