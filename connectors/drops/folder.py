"""A drop on a local or mounted file system: `root/<supplier>/<delivery_id>/`.

A delivery is staged in a hidden `.incoming-<delivery_id>-<random>` folder beside its
final place, every file fsynced and manifest.json written last, and then renamed into
place in one step. A supplier scanning its folder only ever sees complete deliveries.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path

from connectors.drops.base import (
    MANIFEST_NAME,
    Delivery,
    Receipt,
    check_delivery,
    manifest_bytes,
    receipt_files,
    sha256_hex,
)
from connectors.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)

__all__ = ["DIR_MODE", "FILE_MODE", "FolderDrop"]

# Deliveries hold personal data: the owner writes, the supplier's group reads, nobody else.
FILE_MODE = 0o640
DIR_MODE = 0o750

# Errors a later attempt may not meet again: a full or busy disk, a flaky network share.
_TRANSIENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "EAGAIN",
        "EBUSY",
        "EDQUOT",
        "EINTR",
        "EIO",
        "EMFILE",
        "ENFILE",
        "ENOLCK",
        "ENOSPC",
        "ESTALE",
        "ETIMEDOUT",
        "ECONNRESET",
        "ECONNABORTED",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "EWOULDBLOCK",
    )
    if hasattr(errno, name)
)


class FolderDrop:
    """Publishes deliveries as folders under `root`.

    Args:
        root: the drop folder. It must exist unless `create_root` is set: a missing root
            usually means a share that is not mounted, and writing pupil data to the
            local disk underneath it instead would be a leak.
        create_root: create `root` (mode 0o750) if it is missing.
    """

    def __init__(self, root: str | os.PathLike[str], *, create_root: bool = False) -> None:
        self._root = Path(root).absolute()
        self._create_root = create_root

    @property
    def root(self) -> Path:
        """The absolute drop folder."""
        return self._root

    def publish(self, delivery: Delivery) -> Receipt:
        """Publish `delivery` to `root/<supplier>/<delivery_id>/`, all or nothing.

        Args:
            delivery: the files and manifest to publish.

        Returns:
            A receipt with the final folder, file hashes and manifest hash.

        Raises:
            ConfigurationError: a supplier id, delivery id or file name is not allowed.
            PolicyError: the manifest does not describe the delivery.
            TransientDeliveryError: the disk is full, busy or failing; nothing was left
                behind, so a retry is safe.
            PermanentDeliveryError: no permission, a missing or wrong drop folder, or a
                delivery with this id exists already.
        """
        check_delivery(delivery)
        manifest = manifest_bytes(delivery.manifest)
        supplier_dir = self._root / delivery.supplier
        final = supplier_dir / delivery.delivery_id
        incoming: Path | None = None
        try:
            self._prepare_root(delivery)
            _make_dir(supplier_dir, exist_ok=True)
            self._refuse_existing(delivery, final)
            incoming = Path(
                tempfile.mkdtemp(prefix=f".incoming-{delivery.delivery_id}-", dir=supplier_dir)
            )
            os.chmod(incoming, DIR_MODE)
            for data_file in delivery.files:
                _write_file(incoming / data_file.name, data_file.content)
            # Last, so that a delivery folder with a manifest is always complete.
            _write_file(incoming / MANIFEST_NAME, manifest)
            _fsync_dir(incoming)
            self._refuse_existing(delivery, final)
            try:
                os.rename(incoming, final)
            except OSError as exc:
                if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                    raise self._exists_error(delivery, final) from None
                raise
            incoming = None
        except OSError as exc:
            raise _delivery_error(exc, delivery, supplier_dir) from exc
        finally:
            if incoming is not None:
                shutil.rmtree(incoming, ignore_errors=True)
        # The rename is the commit: the supplier can already see the delivery, so a
        # failure to make the rename durable must not report it as undelivered.
        with contextlib.suppress(OSError):
            _fsync_dir(supplier_dir)
            _fsync_dir(self._root)
        return Receipt(
            supplier=delivery.supplier,
            delivery_id=delivery.delivery_id,
            location=str(final),
            files=receipt_files(delivery),
            manifest_sha256=sha256_hex(manifest),
        )

    def _prepare_root(self, delivery: Delivery) -> None:
        if self._create_root:
            self._root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if not self._root.is_dir():
            raise PermanentDeliveryError(
                f"cannot publish delivery {delivery.delivery_id!r} for supplier "
                f"{delivery.supplier!r}: drop folder {self._root} does not exist or is not "
                "a folder (is the share mounted?)"
            )

    def _refuse_existing(self, delivery: Delivery, final: Path) -> None:
        if os.path.lexists(final):
            raise self._exists_error(delivery, final)

    @staticmethod
    def _exists_error(delivery: Delivery, final: Path) -> PermanentDeliveryError:
        return PermanentDeliveryError(
            f"delivery {delivery.delivery_id!r} for supplier {delivery.supplier!r} exists "
            f"already at {final}; a published delivery is never replaced"
        )


def _make_dir(path: Path, *, exist_ok: bool) -> None:
    try:
        os.mkdir(path, DIR_MODE)
    except FileExistsError:
        if not exist_ok:
            raise
        return
    # mkdir's mode is cut by the umask; set it exactly so the supplier's group can read.
    os.chmod(path, DIR_MODE)


def _write_file(path: Path, content: bytes) -> None:
    # O_EXCL: never write through a file or link someone placed in the staging folder.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _delivery_error(exc: OSError, delivery: Delivery, supplier_dir: Path) -> DeliveryError:
    """Turn an OSError into the delivery error the caller acts on; names no file content."""
    reason = exc.strerror or type(exc).__name__
    code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    message = (
        f"cannot publish delivery {delivery.delivery_id!r} for supplier "
        f"{delivery.supplier!r} to {supplier_dir}: {reason}"
        + (f" ({code})" if code else "")
        + "; nothing was published"
    )
    if exc.errno in _TRANSIENT_ERRNOS:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)
