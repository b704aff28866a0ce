"""A drop on an SFTP server: `<path>/<supplier>/<delivery_id>/`, like the folder drop.

A delivery is uploaded into a hidden `.incoming-<delivery_id>-<random>` folder beside its
final place, data files first and manifest.json last, and then renamed into place in one
SFTP rename. A supplier scanning its folder only ever sees complete deliveries. `remove`
works the same way round: one rename to a hidden `.removing-...` name, then delete. The
publish shape is `staged.publish_staged`, shared with the folder drop; sftp_staging holds
the SFTP operations it runs, sftp_connection the connection and its retries, sftp_remote
the file operations on the server; this module the drop's own operations.

The server's host key is pinned: only the keys from the agreement are trusted, never
~/.ssh/known_hosts, ~/.ssh/config or an SSH agent. A refused key or login is never retried;
a dropped or refused connection is, each time on a fresh connection.
"""

from __future__ import annotations

import posixpath

import asyncssh

from connectors.drops.base import (
    INCOMING,
    MANIFEST_NAME,
    REMOVING,
    Delivery,
    Receipt,
    check_delivery,
    check_id,
    hidden_id,
    hidden_name,
    manifest_bytes,
    receipt,
    sha256_hex,
)
from connectors.drops.sftp_connection import SftpConnection
from connectors.drops.sftp_remote import (
    DIR_MODE,
    FILE_MODE,
    Refusal,
    delete_hidden,
    lstat_or_none,
    read_or_none,
)
from connectors.drops.sftp_staging import SftpStaging
from connectors.drops.staged import publish_staged
from connectors.errors import PermanentDeliveryError
from connectors.i18n import _

__all__ = ["DIR_MODE", "FILE_MODE", "SftpDrop"]


class SftpDrop(SftpConnection):
    """Publishes deliveries as folders on an SFTP server, under `path`.

    Args:
        host: the server's host name or address.
        username: the login name.
        host_keys: the server's public host key(s) as in known_hosts, e.g.
            "ssh-ed25519 AAAA... comment". Only these are trusted.
        port: the server's SSH port.
        path: the remote folder the supplier folders go under; "." is the login folder.
            It must exist: a missing one is a configuration error, not created.
        password: the login password; give exactly one of `password` and `client_key`.
        client_key: an unencrypted private key in OpenSSH or PEM format.
        retries: how many more attempts after a lost or refused connection.
        backoff_seconds: wait before the first retry; doubled for each next one.
        connect_timeout: seconds to wait for the connection and login.
        sleep: how to wait between attempts (tests pass a recorder).

    Raises:
        ConfigurationError: a setting is missing or malformed (a host key that is not a
            public key line, a private key that cannot be read, both or neither secret).
    """

    def __repr__(self) -> str:
        auth = "password" if self._password is not None else "client_key"
        return (
            f"SftpDrop(host={self._host!r}, port={self._port}, username={self._username!r}, "
            f"path={self._path!r}, auth={auth})"
        )

    @property
    def url(self) -> str:
        """Where this drop publishes, as `sftp://user@host:port/path`; never holds a secret."""
        return self._url(self._path)

    def publish(self, delivery: Delivery) -> Receipt:
        """Publish `delivery` to `<path>/<supplier>/<delivery_id>/`, all or nothing.

        Args:
            delivery: the files and manifest to publish.

        Returns:
            A receipt whose location is `sftp://<user>@<host>:<port>/<remote folder>`.

        Raises:
            ConfigurationError: a supplier id, delivery id or file name is not allowed.
            PolicyError: the manifest does not describe the delivery.
            TransientDeliveryError: the connection failed on every attempt, or the server
                is full or busy; nothing was published, so a later retry is safe.
            PermanentDeliveryError: the host key or login was refused, the remote folder
                is missing, permission was denied, or a delivery with this id exists.
        """
        check_delivery(delivery)
        manifest = manifest_bytes(delivery.manifest)
        final = posixpath.join(self._path, delivery.supplier, delivery.delivery_id)

        async def attempt(retrying: bool) -> None:
            await self._publish_once(delivery, manifest, retrying=retrying)

        self._with_retries(
            attempt,
            action=_("levering {delivery} voor leverancier {supplier} publiceren").format(
                delivery=repr(delivery.delivery_id), supplier=repr(delivery.supplier)
            ),
            outcome=_("er is niets gepubliceerd"),
        )
        return receipt(delivery, self._url(final), manifest)

    def remove(self, supplier: str, delivery_id: str) -> bool:
        """Remove a published delivery, for the retention policy (`RemovableDrop.remove`).

        Through a hidden REMOVING folder, as drops.base describes: True also when only
        what an interrupted removal left was deleted.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            TransientDeliveryError: the connection failed on every attempt, or deleting
                the withdrawn folder failed; calling remove again finishes the job.
            PermanentDeliveryError: the host key or login was refused, the remote folder
                is missing, permission was denied, or the folder is not a delivery (it has
                no manifest.json).
        """
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))

        async def attempt(retrying: bool) -> bool:
            return await self._remove_once(supplier, delivery_id)

        return self._with_retries(
            attempt,
            action=_("levering {delivery} voor leverancier {supplier} verwijderen").format(
                delivery=repr(delivery_id), supplier=repr(supplier)
            ),
            outcome=_("roep remove opnieuw aan als de oorzaak verholpen is"),
        )

    def find(self, supplier: str, delivery_id: str, manifest_sha256: str) -> str | None:
        """Where the supplier sees this delivery with exactly this manifest, or None.

        Raises:
            ConfigurationError: the supplier id or delivery id is not allowed.
            TransientDeliveryError, PermanentDeliveryError: the server could not be asked.
        """
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        final = posixpath.join(self._path, supplier, delivery_id)

        async def attempt(retrying: bool) -> str | None:
            async with self._sftp() as sftp:
                await self.check_root(sftp)
                found = await read_or_none(sftp, f"{final}/{MANIFEST_NAME}")
            if found is None or sha256_hex(found) != manifest_sha256:
                return None
            return self._url(final)

        return self._with_retries(
            attempt,
            action=_("levering {delivery} zoeken").format(delivery=repr(delivery_id)),
            outcome=_("er is niets veranderd"),
        )

    def incoming(self, supplier: str) -> list[str]:
        """Delivery ids with a staging folder left beside the supplier's deliveries."""
        check_id(supplier, what=_("leverancier-id"))
        supplier_dir = posixpath.join(self._path, supplier)

        async def attempt(retrying: bool) -> list[str]:
            async with self._sftp() as sftp:
                if await lstat_or_none(sftp, supplier_dir) is None:
                    return []
                names = [str(name) for name in await sftp.listdir(supplier_dir)]
            return sorted({d for name in names if (d := hidden_id(name, INCOMING)) is not None})

        return self._with_retries(
            attempt,
            action=_("inhoud van {folder} opvragen").format(folder=supplier_dir),
            outcome=_("er is niets veranderd"),
        )

    def remove_incoming(self, supplier: str, delivery_id: str) -> int:
        """Delete what an interrupted upload of `delivery_id` staged; return how many folders."""
        check_id(supplier, what=_("leverancier-id"))
        check_id(delivery_id, what=_("levering-id"))
        supplier_dir = posixpath.join(self._path, supplier)

        async def attempt(retrying: bool) -> int:
            async with self._sftp() as sftp:
                if await lstat_or_none(sftp, supplier_dir) is None:
                    return 0
                with self.step(
                    _("{folder} opruimen").format(folder=supplier_dir), _("roep het opnieuw aan")
                ):
                    return await delete_hidden(sftp, supplier_dir, INCOMING, delivery_id)

        return self._with_retries(
            attempt,
            action=_("{folder} opruimen").format(folder=supplier_dir),
            outcome=_("roep het opnieuw aan"),
        )

    # --- one attempt, on one connection ----------------------------------------------------

    async def _publish_once(self, delivery: Delivery, manifest: bytes, *, retrying: bool) -> None:
        async with self._sftp() as sftp:
            await publish_staged(SftpStaging(self, sftp, delivery), delivery, manifest, self._steps)

    async def _remove_once(self, supplier: str, delivery_id: str) -> bool:
        supplier_dir = posixpath.join(self._path, supplier)
        final = posixpath.join(supplier_dir, delivery_id)
        async with self._sftp() as sftp:
            # A missing root fails here, so that an unmounted or renamed remote folder never
            # looks like an already removed delivery.
            await self.check_root(sftp)
            if await lstat_or_none(sftp, supplier_dir) is None:
                return False
            with self.step(
                _("resten van een eerdere verwijdering in {folder} wissen").format(
                    folder=supplier_dir
                ),
                _("de levering is niet verwijderd"),
            ):
                leftovers = await delete_hidden(sftp, supplier_dir, REMOVING, delivery_id)
            attrs = await lstat_or_none(sftp, final)
            if attrs is None:
                return leftovers > 0
            # lstat, not stat: a link is not a delivery, and deleting through it could reach
            # files outside the drop.
            manifest = None
            if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                manifest = await lstat_or_none(sftp, f"{final}/{MANIFEST_NAME}")
            if manifest is None or manifest.type != asyncssh.FILEXFER_TYPE_REGULAR:
                raise Refusal(
                    PermanentDeliveryError(
                        _(
                            "{value} wordt niet verwijderd: het is geen levermap (geen "
                            "{manifest_name} erin); alleen gepubliceerde leveringen worden "
                            "verwijderd"
                        ).format(
                            value=self._url(final),
                            manifest_name=MANIFEST_NAME,
                        )
                    )
                )
            hidden = posixpath.join(supplier_dir, hidden_name(REMOVING, delivery_id))
            with self.step(_("{final} intrekken").format(final=final), _("er is niets verwijderd")):
                await sftp.rename(final, hidden)
            with self.step(
                _("{hidden} wissen").format(hidden=hidden),
                _(
                    "de levering is ingetrokken maar haar verborgen map blijft staan; roep "
                    "remove opnieuw aan om af te ronden"
                ),
            ):
                await sftp.rmtree(hidden)
            return True
