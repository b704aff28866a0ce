"""SFTP drop: the staging operations one publish runs (staged.publish_staged) on one connection."""

from __future__ import annotations

import contextlib
import posixpath

import asyncssh

from connectors.drops.base import INCOMING, MANIFEST_NAME, Delivery
from connectors.drops.sftp_connection import SftpConnection
from connectors.drops.sftp_remote import (
    DIR_MODE,
    SFTP_LOST,
    Refusal,
    delete_hidden,
    lstat_or_none,
    read_or_none,
    set_mode,
    upload_file,
)
from connectors.drops.staged import Staging
from connectors.i18n import _


class SftpStaging(Staging):
    """The SFTP drop's primitive operations for one publish, on one connection."""

    def __init__(self, drop: SftpConnection, sftp: asyncssh.SFTPClient, delivery: Delivery) -> None:
        self._drop = drop
        self._sftp = sftp
        self._delivery = delivery
        self._folder = posixpath.join(drop.root, delivery.supplier)

    def _remote(self, *names: str) -> str:
        return posixpath.join(self._folder, *names)

    async def prepare(self) -> None:
        """Check the remote folder and make the supplier's folder in it."""
        await self._drop.check_root(self._sftp)
        await self._drop.ensure_supplier_dir(self._sftp, self._folder)

    async def exists(self, name: str) -> bool:
        """Whether `name` is there (lstat: a link counts)."""
        return await lstat_or_none(self._sftp, self._remote(name)) is not None

    async def holds(self, name: str, manifest: bytes) -> bool:
        """Whether `name` holds these manifest bytes: the manifest lists each file's hash."""
        return await read_or_none(self._sftp, self._remote(name, MANIFEST_NAME)) == manifest

    def exists_error(self) -> Refusal:
        """A published delivery is never replaced; refused without a retry."""
        return Refusal(
            self._drop.exists_error(self._delivery, self._remote(self._delivery.delivery_id))
        )

    async def forget_earlier_attempts(self) -> None:
        """Delete the staging folders an attempt that lost its connection left behind."""
        with contextlib.suppress(asyncssh.SFTPError):
            await delete_hidden(self._sftp, self._folder, INCOMING, self._delivery.delivery_id)

    async def make_folder(self, name: str) -> None:
        """Make the staging folder with DIR_MODE."""
        with self._drop.step(_("tussenmap in {folder} maken").format(folder=self._folder)):
            await self._sftp.mkdir(self._remote(name), asyncssh.SFTPAttrs(permissions=DIR_MODE))
            await set_mode(self._sftp, self._remote(name), DIR_MODE)

    async def write(self, folder: str, name: str, content: bytes) -> None:
        """Upload the file with FILE_MODE, fsynced where the server can."""
        with self._drop.step(_("{name} uploaden").format(name=name)):
            await upload_file(self._sftp, self._remote(folder, name), content)

    async def seal(self, folder: str) -> None:
        """Nothing: SFTP cannot sync a folder; each upload was fsynced where the server can."""

    async def rename(self, folder: str, name: str) -> None:
        """Rename the staging folder into place; a taken name is the exists error."""
        final = self._remote(name)
        try:
            # Plain SFTP rename never replaces an existing name (no posix-rename).
            await self._sftp.rename(self._remote(folder), final)
        except asyncssh.SFTPError as exc:
            if isinstance(exc, SFTP_LOST):
                raise
            if await lstat_or_none(self._sftp, final) is not None:
                raise self.exists_error() from None
            raise Refusal(
                self._drop.sftp_error(
                    exc, _("tussenmap hernoemen naar {final}").format(final=final)
                )
            ) from None

    async def settle(self) -> None:
        """Nothing: SFTP cannot sync a folder; the rename is the server's to keep."""

    async def discard(self, folder: str) -> None:
        """Delete the staging folder, best effort.

        On a lost connection this fails, and the next attempt (or the next publish of this
        delivery id) cleans up instead.
        """
        with contextlib.suppress(asyncssh.Error, OSError):
            await self._sftp.rmtree(self._remote(folder))
