"""The publish shape the folder and SFTP drops share: stage hidden, manifest last, rename.

`publish_staged` is the whole shape, written once; a transport (`Staging`) supplies only
its primitive operations on one supplier's folder. The shape is `async` because the SFTP
drop's operations wait on the network; the folder drop's never wait, so it runs the shape
with `run_unsuspended`, without an event loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Coroutine
from typing import Any, TypeVar

from connectors.drops.base import (
    AFTER_DATA_FILES,
    AFTER_MANIFEST,
    AFTER_RENAME,
    BEFORE_UPLOAD,
    INCOMING,
    MANIFEST_NAME,
    Delivery,
    Steps,
    hidden_name,
)

__all__ = ["Staging", "publish_staged", "run_unsuspended"]

_T = TypeVar("_T")


class Staging(ABC):
    """What one publish needs from a transport, in the folder of the delivery's supplier.

    Every name is a folder or file name inside the supplier's folder (the transport knows
    where that is). An operation that fails raises what the drop's callers expect of it,
    or an error the drop turns into that around `publish_staged`.
    """

    @abstractmethod
    async def prepare(self) -> None:
        """Check that the drop is there and make the supplier's folder if it is missing."""

    @abstractmethod
    async def exists(self, name: str) -> bool:
        """Whether anything, a link included, is called `name`."""

    @abstractmethod
    async def holds(self, name: str, manifest: bytes) -> bool:
        """Whether `name` is a published delivery with exactly these manifest bytes."""

    @abstractmethod
    def exists_error(self) -> Exception:
        """The error that says the delivery's id is taken by another delivery."""

    @abstractmethod
    async def forget_earlier_attempts(self) -> None:
        """Delete what earlier attempts of this publish staged, where the transport does."""

    @abstractmethod
    async def make_folder(self, name: str) -> None:
        """Make the staging folder `name`, which must not exist yet."""

    @abstractmethod
    async def write(self, folder: str, name: str, content: bytes) -> None:
        """Create file `name` in `folder`, never through an existing one, with its bytes."""

    @abstractmethod
    async def seal(self, folder: str) -> None:
        """Make the names in `folder` durable before it is renamed, where the transport can."""

    @abstractmethod
    async def rename(self, folder: str, name: str) -> None:
        """Rename `folder` to `name`, never replacing it (`exists_error` when taken)."""

    @abstractmethod
    async def discard(self, folder: str) -> None:
        """Delete the staging `folder` and what it holds, if it is there; never raises."""

    @abstractmethod
    async def settle(self) -> None:
        """Make the rename durable where the transport can; never raises: it is done."""


async def publish_staged(
    staging: Staging, delivery: Delivery, manifest: bytes, steps: Steps
) -> None:
    """Publish `delivery` through `staging`: every file, then the manifest, then the rename.

    The delivery is staged in a hidden `.incoming-<delivery_id>-<random>` folder and renamed
    into place in one step, so a supplier scanning its folder only sees complete deliveries.
    An earlier publish of exactly this delivery (same manifest bytes) makes this one done.

    Args:
        staging: the transport's operations, on the supplier's folder.
        delivery: the checked delivery (`base.check_delivery`).
        manifest: its manifest bytes (`base.manifest_bytes`).
        steps: called at each step boundary (`base.DROP_STEPS`).

    Raises:
        Exception: `staging.exists_error()` when another delivery has the id; otherwise
            what the operations raise. Nothing staged is left behind.
    """
    await staging.prepare()
    final = delivery.delivery_id
    if await staging.exists(final):
        # A retry after a publish whose success was not seen (a crash, a lost reply): the
        # manifest lists every file with its hash, so the same manifest is this delivery.
        if await staging.holds(final, manifest):
            return
        raise staging.exists_error()
    await staging.forget_earlier_attempts()
    # A name `remove_incoming` recognises: what a killed process leaves is found.
    incoming = hidden_name(INCOMING, delivery.delivery_id)
    steps(BEFORE_UPLOAD)
    committed = False
    try:
        await staging.make_folder(incoming)
        for data_file in delivery.files:
            await staging.write(incoming, data_file.name, data_file.content)
        steps(AFTER_DATA_FILES)
        # Last, so that a delivery folder with a manifest is always complete.
        await staging.write(incoming, MANIFEST_NAME, manifest)
        await staging.seal(incoming)
        steps(AFTER_MANIFEST)
        if await staging.exists(final):
            raise staging.exists_error()
        await staging.rename(incoming, final)
        committed = True
    finally:
        if not committed:
            await staging.discard(incoming)
    # The rename is the commit: the supplier can already see the delivery, so a failure to
    # make the rename durable must not report it as undelivered.
    await staging.settle()
    steps(AFTER_RENAME)


def run_unsuspended(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run `coroutine` to its end in this thread, without an event loop.

    For a transport whose operations never wait (the folder drop's are blocking calls):
    the coroutine then finishes in one step, and its errors come out here unchanged.

    Raises:
        RuntimeError: the coroutine waited on something; it is closed first.
    """
    try:
        coroutine.send(None)
    except StopIteration as finished:
        result: _T = finished.value
        return result
    coroutine.close()
    raise RuntimeError("run_unsuspended: the coroutine waited; it needs an event loop")
