"""Builds a drop from the kind and settings a supplier agreement names."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

from connectors.drops.base import Drop
from connectors.errors import ConfigurationError
from connectors.i18n import _

__all__ = ["DROPS", "ReconcilableDrop", "RemovableDrop", "get_drop", "known_drops"]

# Adding a drop is one line here plus its module, named as "module:class". A drop's module
# is imported when a drop of its kind is first built: the SFTP drop loads asyncssh and its
# cryptography, which every run that only drops into folders would otherwise pay for.
DROPS: dict[str, str] = {
    "folder": "connectors.drops.folder:FolderDrop",
    "memory": "connectors.drops.memory:MemoryDrop",
    "sftp": "connectors.drops.sftp:SftpDrop",
}


@runtime_checkable
class ReconcilableDrop(Drop, Protocol):
    """A drop a later run can ask what a killed run left: pipelines/reconcile.py."""

    def find(self, supplier: str, delivery_id: str, manifest_sha256: str) -> str | None:
        """The location of the delivery if the supplier sees it with this manifest, else None."""
        ...

    def incoming(self, supplier: str) -> list[str]:
        """Delivery ids with a hidden staging folder left in the supplier's folder."""
        ...

    def remove_incoming(self, supplier: str, delivery_id: str) -> int:
        """Delete the staging folders of `delivery_id`; return how many."""
        ...


@runtime_checkable
class RemovableDrop(Drop, Protocol):
    """A drop that can also take a published delivery away again, for retention.

    Check with `isinstance(drop, RemovableDrop)` before applying a retention policy.
    """

    def remove(self, supplier: str, delivery_id: str) -> bool:
        """Remove a published delivery; the supplier sees it vanish in one step.

        Args:
            supplier: supplier id.
            delivery_id: the delivery's id.

        Returns:
            True if something of the delivery was removed, False if it was already gone.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            TransientDeliveryError: removing failed; calling remove again may finish it.
            PermanentDeliveryError: removing failed and a retry will not help, including
                a folder that is not a delivery (no manifest.json inside).
        """
        ...


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
        module, _sep, name = DROPS[kind].partition(":")
    except (KeyError, TypeError):
        raise ConfigurationError(
            _("onbekend soort levermap {kind}; bekende soorten: {value}").format(
                kind=repr(kind),
                value=", ".join(known_drops()),
            )
        ) from None
    factory = cast(Callable[..., Drop], getattr(importlib.import_module(module), name))
    signature = inspect.signature(factory)
    try:
        signature.bind(**kwargs)
    except TypeError as exc:
        accepted = ", ".join(signature.parameters) or "none"
        raise ConfigurationError(
            _(
                "levermap {kind} kan niet gemaakt worden uit de instellingen "
                "{value}: {exc}; ze neemt: {accepted}"
            ).format(
                kind=repr(kind),
                value=", ".join(sorted(kwargs)) or "(none)",
                exc=exc,
                accepted=accepted,
            )
        ) from None
    return factory(**kwargs)
