"""The in-memory drop tests publish to, with switches that make it fail part-way."""

from __future__ import annotations

import json
import threading
from typing import Any

from connectors.drops.base import (
    MANIFEST_NAME,
    Delivery,
    Receipt,
    check_delivery,
    check_id,
    manifest_bytes,
    receipt,
    sha256_hex,
)
from connectors.errors import PermanentDeliveryError, TransientDeliveryError
from connectors.i18n import _

__all__ = ["MemoryDrop"]


class MemoryDrop:
    """Keeps published deliveries in a dict; behaves like a drop, all or nothing.

    Args:
        fail_on_write: every publish fails on its first write, and every remove fails.
        fail_after_files: every publish fails after writing this many files; the manifest
            counts as the last file, so `len(files)` makes the manifest write fail.

    Attributes:
        deliveries: `(supplier, delivery_id)` to `{file name: bytes}`, manifest.json
            included, for completed deliveries only.
        attempts: how many times `publish` was called, failed calls included.
        fail_on_write: may be switched off between calls to let a retry succeed.
        fail_after_files: likewise.
    """

    def __init__(self, fail_on_write: bool = False, fail_after_files: int | None = None) -> None:
        self.fail_on_write = fail_on_write
        self.fail_after_files = fail_after_files
        self.deliveries: dict[tuple[str, str], dict[str, bytes]] = {}
        self.attempts = 0
        # Flows may publish for several suppliers on threads at once.
        self._lock = threading.Lock()

    def publish(self, delivery: Delivery) -> Receipt:
        """Publish `delivery` into `deliveries`, or nothing of it.

        Args:
            delivery: the files and manifest to publish.

        Returns:
            A receipt with location `memory://<supplier>/<delivery_id>`.

        Raises:
            ConfigurationError: a supplier id, delivery id or file name is not allowed.
            PolicyError: the manifest does not describe the delivery.
            TransientDeliveryError: a failure switch is on; nothing was kept.
            PermanentDeliveryError: a delivery with this id was published before.
        """
        with self._lock:
            self.attempts += 1
        check_delivery(delivery)
        manifest = manifest_bytes(delivery.manifest)
        key = (delivery.supplier, delivery.delivery_id)
        self._refuse_existing(key)

        writes = [(data_file.name, data_file.content) for data_file in delivery.files]
        writes.append((MANIFEST_NAME, manifest))
        staged: dict[str, bytes] = {}
        for name, content in writes:
            if self.fail_on_write or (
                self.fail_after_files is not None and len(staged) >= self.fail_after_files
            ):
                raise TransientDeliveryError(
                    _(
                        "levering {delivery_id} voor leverancier {supplier} kan niet naar "
                        "{location} gepubliceerd worden: schrijven van bestand "
                        "{value} mislukt (gesimuleerd); er is niets gepubliceerd"
                    ).format(
                        delivery_id=repr(delivery.delivery_id),
                        supplier=repr(delivery.supplier),
                        location=f"memory://{delivery.supplier}",
                        value=len(staged) + 1,
                    )
                )
            staged[name] = content

        with self._lock:
            self._refuse_existing(key)
            self.deliveries[key] = staged
        return receipt(delivery, f"memory://{delivery.supplier}/{delivery.delivery_id}", manifest)

    def remove(self, supplier: str, delivery_id: str) -> bool:
        """Remove a published delivery, as the retention policy does.

        Args:
            supplier: supplier id.
            delivery_id: the delivery's id.

        Returns:
            True if the delivery was removed, False if there was no such delivery.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            TransientDeliveryError: `fail_on_write` is on; nothing was removed.
        """
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        if self.fail_on_write:
            raise TransientDeliveryError(
                _(
                    "levering {delivery_id} voor leverancier {supplier} kan niet uit "
                    "{location} verwijderd worden: schrijven mislukt "
                    "(gesimuleerd); er is niets verwijderd"
                ).format(
                    delivery_id=repr(delivery_id),
                    supplier=repr(supplier),
                    location=f"memory://{supplier}",
                )
            )
        with self._lock:
            return self.deliveries.pop((supplier, delivery_id), None) is not None

    def find(self, supplier: str, delivery_id: str, manifest_sha256: str) -> str | None:
        """`memory://<supplier>/<delivery_id>` if it holds this manifest, else None."""
        check_id(supplier, what="supplier id")
        check_id(delivery_id, what="delivery id")
        with self._lock:
            files = self.deliveries.get((supplier, delivery_id))
        if files is None or sha256_hex(files[MANIFEST_NAME]) != manifest_sha256:
            return None
        return f"memory://{supplier}/{delivery_id}"

    def incoming(self, supplier: str) -> list[str]:
        """Nothing is staged in memory: a failed publish keeps nothing."""
        check_id(supplier, what="supplier id")
        return []

    def remove_incoming(self, supplier: str, delivery_id: str) -> int:
        """Nothing is staged in memory; 0."""
        check_id(supplier, what="supplier id")
        check_id(delivery_id, what="delivery id")
        return 0

    def manifest(self, supplier: str, delivery_id: str) -> dict[str, Any]:
        """Return the parsed manifest of a published delivery.

        Args:
            supplier: supplier id.
            delivery_id: the delivery's id.

        Returns:
            The manifest as published.

        Raises:
            KeyError: no such delivery was published.
        """
        parsed: dict[str, Any] = json.loads(self.deliveries[(supplier, delivery_id)][MANIFEST_NAME])
        return parsed

    def _refuse_existing(self, key: tuple[str, str]) -> None:
        if key in self.deliveries:
            supplier, delivery_id = key
            raise PermanentDeliveryError(
                _(
                    "levering {delivery_id} voor leverancier {supplier} bestaat al in "
                    "{location}; een gepubliceerde levering "
                    "wordt nooit vervangen"
                ).format(
                    delivery_id=repr(delivery_id),
                    supplier=repr(supplier),
                    location=f"memory://{supplier}/{delivery_id}",
                )
            )
