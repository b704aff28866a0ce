"""A drop on a local or mounted file system: `root/<supplier>/<delivery_id>/`.

A delivery is staged in a hidden `.incoming-<delivery_id>-<random>` folder beside its
final place, every file fsynced and manifest.json written last, and then renamed into
place in one step. A supplier scanning its folder only ever sees complete deliveries.
Each folder is fsynced once per delivery: the staging folder before the rename, the
supplier's folder after it, and the root once per supplier and drop.
`remove` works the same way round: one rename to a hidden `.removing-...` name, then delete.

The publish shape is `staged.publish_staged`, shared with the SFTP drop; this module
holds the file-system operations it runs (`_FolderStaging`).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
from pathlib import Path

from connectors.drops.base import (
    INCOMING,
    MANIFEST_NAME,
    REMOVING,
    Delivery,
    Receipt,
    Steps,
    check_delivery,
    check_id,
    hidden_id,
    hidden_name,
    is_hidden_of,
    manifest_bytes,
    no_steps,
    receipt,
    sha256_hex,
)
from connectors.drops.staged import Staging, publish_staged, run_unsuspended
from connectors.errors import (
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from connectors.i18n import _
from connectors.private_files import PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, make_private_dir

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
        private: for Sluis' own copies (archive, held deliveries) in its state: files
            0600 and folders 0700, nobody but the owner reads them; a supplier's drop
            keeps 0640 and 0750, so that the supplier's group can read its deliveries.
        steps: called with each step boundary of a publish (base.DROP_STEPS), for tests
            that stop the process there.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        create_root: bool = False,
        private: bool = False,
        steps: Steps = no_steps,
    ) -> None:
        self._steps = steps
        self._root = Path(root).absolute()
        self._create_root = create_root
        self._private = private
        self._file_mode = PRIVATE_FILE_MODE if private else FILE_MODE
        self._dir_mode = PRIVATE_DIR_MODE if private else DIR_MODE
        # Suppliers whose folder this drop has synced into the root (see `publish`).
        self._rooted: set[str] = set()

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
        try:
            run_unsuspended(
                publish_staged(_FolderStaging(self, delivery), delivery, manifest, self._steps)
            )
        except OSError as exc:
            raise _delivery_error(exc, delivery, supplier_dir) from exc
        return receipt(delivery, str(supplier_dir / delivery.delivery_id), manifest)

    def find(self, supplier: str, delivery_id: str, manifest_sha256: str) -> str | None:
        """Where the supplier sees this delivery with exactly this manifest, or None.

        For reconciling a run that died while publishing: a delivery whose manifest is
        there counts as delivered.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            PermanentDeliveryError: the drop folder is missing (an unmounted share must
                not look like a delivery that never happened).
        """
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        self._require_root(
            _("levering {delivery_id} zoeken lukt niet").format(delivery_id=repr(delivery_id))
        )
        final = self._root / supplier / delivery_id
        path = final / MANIFEST_NAME
        try:
            if final.is_symlink() or path.is_symlink() or not path.is_file():
                return None
            if sha256_hex(path.read_bytes()) != manifest_sha256:
                return None
            return str(final) if _same_delivery(final, path.read_bytes()) else None
        except OSError as exc:
            raise _os_error(
                exc,
                _("levering {delivery_id} zoeken lukt niet").format(delivery_id=repr(delivery_id)),
                "",
            ) from exc

    def incoming(self, supplier: str) -> list[str]:
        """Delivery ids with a staging folder left beside the supplier's deliveries."""
        check_id(supplier, what=_("leverancier-id"))
        supplier_dir = self._root / supplier
        try:
            names = sorted(os.listdir(supplier_dir)) if supplier_dir.is_dir() else []
        except OSError as exc:
            raise _os_error(
                exc, _("{folder} lezen lukt niet").format(folder=supplier_dir), ""
            ) from exc
        return sorted({d for name in names if (d := hidden_id(name, INCOMING)) is not None})

    def remove_incoming(self, supplier: str, delivery_id: str) -> int:
        """Delete what an interrupted publish of `delivery_id` staged; return how many folders."""
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        supplier_dir = self._root / supplier
        deleted = 0
        try:
            if not supplier_dir.is_dir():
                return 0
            for entry in sorted(os.listdir(supplier_dir)):
                if is_hidden_of(entry, INCOMING, delivery_id):
                    shutil.rmtree(supplier_dir / entry)
                    deleted += 1
        except OSError as exc:
            raise _os_error(
                exc,
                _("{folder} opruimen lukt niet").format(folder=supplier_dir),
                _("roep het opnieuw aan"),
            ) from exc
        return deleted

    def _require_root(self, what: str) -> None:
        if not self._root.is_dir() and not (self._create_root and not os.path.lexists(self._root)):
            raise PermanentDeliveryError(
                _(
                    "{what}: levermap {root} bestaat niet of is geen map (is de share gekoppeld?)"
                ).format(what=what, root=self._root)
            )

    def remove(self, supplier: str, delivery_id: str) -> bool:
        """Remove a published delivery, for the retention policy (`RemovableDrop.remove`).

        Through a hidden REMOVING folder, as drops.base describes: True also when only
        what an interrupted removal left was deleted.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            TransientDeliveryError: the disk is busy or failing; calling remove again
                finishes the job.
            PermanentDeliveryError: the drop folder is missing and not `create_root` (an
                unmounted share must not look like an already removed delivery), no
                permission, or the folder is not a delivery (it has no manifest.json).
        """
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        supplier_dir = self._root / supplier
        final = supplier_dir / delivery_id
        if not self._root.is_dir():
            if self._create_root and not os.path.lexists(self._root):
                # A root this drop creates on first publish: missing means never published.
                return False
            raise PermanentDeliveryError(
                _(
                    "levering {delivery_id} voor leverancier {supplier} kan niet "
                    "verwijderd worden: levermap {root} bestaat niet of is geen map "
                    "(is de share gekoppeld?)"
                ).format(
                    delivery_id=repr(delivery_id),
                    supplier=repr(supplier),
                    root=self._root,
                )
            )
        try:
            if not supplier_dir.is_dir():
                return False
            leftovers = _delete_removing(supplier_dir, delivery_id)
            try:
                folder = os.lstat(final)
            except FileNotFoundError:
                return leftovers > 0
            try:
                manifest = os.lstat(final / MANIFEST_NAME)
            except (FileNotFoundError, NotADirectoryError):
                manifest = None
            # lstat, not stat: a link is not a delivery, and deleting through it could
            # reach files outside the drop.
            if not (
                stat.S_ISDIR(folder.st_mode)
                and manifest is not None
                and stat.S_ISREG(manifest.st_mode)
            ):
                raise PermanentDeliveryError(
                    _(
                        "{final} wordt niet verwijderd: het is geen levermap (geen "
                        "{manifest_name} erin); alleen gepubliceerde leveringen worden "
                        "verwijderd"
                    ).format(
                        final=final,
                        manifest_name=MANIFEST_NAME,
                    )
                )
            hidden = supplier_dir / hidden_name(REMOVING, delivery_id)
            os.rename(final, hidden)
            with contextlib.suppress(OSError):
                _fsync_dir(supplier_dir)
        except OSError as exc:
            raise _removal_error(
                exc, supplier, delivery_id, final, _("er is niets verwijderd")
            ) from exc
        try:
            shutil.rmtree(hidden)
        except OSError as exc:
            raise _removal_error(
                exc,
                supplier,
                delivery_id,
                final,
                _(
                    "de levering is ingetrokken maar haar verborgen map {name} blijft staan; "
                    "roep remove opnieuw aan om af te ronden"
                ).format(name=hidden.name),
            ) from exc
        return True


class _FolderStaging(Staging):
    """The folder drop's primitive operations for one publish, in `root/<supplier>/`."""

    def __init__(self, drop: FolderDrop, delivery: Delivery) -> None:
        self._drop = drop
        self._delivery = delivery
        self._root = drop.root
        self._folder = drop.root / delivery.supplier
        self._made = False

    async def prepare(self) -> None:
        """Check the drop root (making it when asked) and make the supplier's folder."""
        drop = self._drop
        if drop._create_root and drop._private:
            make_private_dir(self._root)
        elif drop._create_root:
            self._root.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        if not self._root.is_dir():
            raise PermanentDeliveryError(
                _(
                    "levering {delivery_id} voor leverancier {supplier} kan niet "
                    "gepubliceerd worden: levermap {root} bestaat niet of is geen map "
                    "(is de share gekoppeld?)"
                ).format(
                    delivery_id=repr(self._delivery.delivery_id),
                    supplier=repr(self._delivery.supplier),
                    root=self._root,
                )
            )
        self._made = _make_dir(self._folder, exist_ok=True, mode=drop._dir_mode)

    async def exists(self, name: str) -> bool:
        """Whether `name` is there, a dangling link included."""
        return os.path.lexists(self._folder / name)

    async def holds(self, name: str, manifest: bytes) -> bool:
        """Whether `name` holds this manifest and every file it lists, with its hash."""
        return _same_delivery(self._folder / name, manifest)

    def exists_error(self) -> PermanentDeliveryError:
        """A published delivery is never replaced."""
        return PermanentDeliveryError(
            _(
                "levering {delivery_id} voor leverancier {supplier} bestaat al in "
                "{final}; een gepubliceerde levering wordt nooit vervangen"
            ).format(
                delivery_id=repr(self._delivery.delivery_id),
                supplier=repr(self._delivery.supplier),
                final=self._folder / self._delivery.delivery_id,
            )
        )

    async def forget_earlier_attempts(self) -> None:
        """Nothing: a failed publish deletes its own staging; a killed one's is reconciled."""

    async def make_folder(self, name: str) -> None:
        """Make the staging folder with the drop's folder mode."""
        _make_dir(self._folder / name, exist_ok=False, mode=self._drop._dir_mode)

    async def write(self, folder: str, name: str, content: bytes) -> None:
        """Write the file with the drop's file mode and fsync it."""
        _write_file(self._folder / folder / name, content, self._drop._file_mode)

    async def seal(self, folder: str) -> None:
        """Fsync the staging folder, so that its names survive a crash after the rename."""
        _fsync_dir(self._folder / folder)

    async def rename(self, folder: str, name: str) -> None:
        """Rename the staging folder into place; a taken name is the exists error."""
        try:
            os.rename(self._folder / folder, self._folder / name)
        except OSError as exc:
            if exc.errno in (errno.EEXIST, errno.ENOTEMPTY):
                raise self.exists_error() from None
            raise

    async def discard(self, folder: str) -> None:
        """Delete the staging folder, ignoring what cannot be deleted."""
        shutil.rmtree(self._folder / folder, ignore_errors=True)

    async def settle(self) -> None:
        """Fsync the supplier's folder, and the root when the supplier's folder is new to it."""
        with contextlib.suppress(OSError):
            _fsync_dir(self._folder)
            # The root changes only when the supplier's folder is new, so it is synced once
            # per supplier and drop, not per delivery: when this publish made the folder, or
            # on this drop's first publish there (a process killed before it synced the root
            # may have made the folder).
            rooted = self._drop._rooted
            if self._made or self._delivery.supplier not in rooted:
                _fsync_dir(self._root)
                rooted.add(self._delivery.supplier)


def _same_delivery(final: Path, manifest: bytes) -> bool:
    """True when `final` is a complete delivery with exactly this manifest.

    The manifest lists every file with its hash, so equal manifest bytes (and every file
    there with its listed hash) means the same delivery; a different one is never touched.
    """
    path = final / MANIFEST_NAME
    if final.is_symlink() or not path.is_file() or path.is_symlink():
        return False
    if path.read_bytes() != manifest:
        return False
    listed = json.loads(manifest)["files"]
    return all(
        (final / entry["name"]).is_file()
        and sha256_hex((final / entry["name"]).read_bytes()) == entry["sha256"]
        for entry in listed
    )


def _delete_removing(supplier_dir: Path, delivery_id: str) -> int:
    """Delete what interrupted removals of `delivery_id` left; return how many folders."""
    deleted = 0
    for entry in sorted(os.listdir(supplier_dir)):
        if is_hidden_of(entry, REMOVING, delivery_id):
            shutil.rmtree(supplier_dir / entry)
            deleted += 1
    return deleted


def _make_dir(path: Path, *, exist_ok: bool, mode: int) -> bool:
    """Make folder `path` with exactly `mode`; False when it was there (and `exist_ok`)."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not exist_ok:
            raise
        return False
    # mkdir's mode is cut by the umask; set it exactly so the supplier's group can read.
    os.chmod(path, mode)
    return True


def _write_file(path: Path, content: bytes, mode: int) -> None:
    # O_EXCL: never write through a file or link someone placed in the staging folder.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _removal_error(
    exc: OSError, supplier: str, delivery_id: str, final: Path, outcome: str
) -> DeliveryError:
    """Turn an OSError met while removing into the delivery error the caller acts on."""
    return _os_error(
        exc,
        _(
            "levering {delivery} voor leverancier {supplier} in {final} verwijderen lukt niet"
        ).format(delivery=repr(delivery_id), supplier=repr(supplier), final=final),
        outcome,
    )


def _delivery_error(exc: OSError, delivery: Delivery, supplier_dir: Path) -> DeliveryError:
    """Turn an OSError into the delivery error the caller acts on; names no file content."""
    return _os_error(
        exc,
        _(
            "levering {delivery} voor leverancier {supplier} naar {folder} publiceren lukt niet"
        ).format(
            delivery=repr(delivery.delivery_id),
            supplier=repr(delivery.supplier),
            folder=supplier_dir,
        ),
        _("er is niets gepubliceerd"),
    )


def _os_error(exc: OSError, what: str, outcome: str) -> DeliveryError:
    """`what` failed: the OS's reason and code, transient when trying later may help."""
    reason = exc.strerror or type(exc).__name__
    code = errno.errorcode.get(exc.errno, "") if exc.errno is not None else ""
    message = (
        f"{what}: {reason}" + (f" ({code})" if code else "") + (f"; {outcome}" if outcome else "")
    )
    if exc.errno in _TRANSIENT_ERRNOS:
        return TransientDeliveryError(message)
    return PermanentDeliveryError(message)
