"""A drop on an SFTP server: `<path>/<supplier>/<delivery_id>/`, like the folder drop.

A delivery is uploaded into a hidden `.incoming-<delivery_id>-<random>` folder beside its
final place, data files first and manifest.json last, and then renamed into place in one
SFTP rename. A supplier scanning its folder only ever sees complete deliveries. `remove`
works the same way round: one rename to a hidden `.removing-...` name, then delete. The
publish shape is `staged.publish_staged`, shared with the folder drop; this module holds
the SFTP operations it runs (`_SftpStaging`).

The server's host key is pinned: only the keys from the agreement are trusted, never
~/.ssh/known_hosts, ~/.ssh/config or an SSH agent. A refused key or login is never retried;
a dropped or refused connection is, each time on a fresh connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar
from urllib.parse import quote

import asyncssh
from asyncssh.public_key import get_default_public_key_algs
from pydantic import SecretStr

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
    receipt_files,
    sha256_hex,
)
from connectors.drops.staged import Staging, publish_staged
from connectors.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from connectors.i18n import _

__all__ = ["DIR_MODE", "FILE_MODE", "SftpDrop"]

# Deliveries hold personal data: the owner writes, the supplier's group reads, nobody else.
FILE_MODE = 0o640
DIR_MODE = 0o750

# asyncssh logs every connection, login and SFTP request at INFO; those records would land
# in the run logs with host names, user names and paths. Warnings still come through.
asyncssh.set_log_level(logging.WARNING)

# SFTP status errors that say the server is fine but full or busy: the caller may try again
# later, but retrying at once on a fresh connection would meet the same.
_SFTP_TRANSIENT = (
    asyncssh.SFTPNoSpaceOnFilesystem,
    asyncssh.SFTPQuotaExceeded,
    asyncssh.SFTPLockConflict,
    asyncssh.SFTPFailure,
)
# SFTP status errors that mean the connection went away: retried like a lost connection.
_SFTP_LOST = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)
# What a server may refuse when asked to set modes; the delivery still goes out.
_SETSTAT_REFUSED = (
    asyncssh.SFTPOpUnsupported,
    asyncssh.SFTPPermissionDenied,
    asyncssh.SFTPFailure,
)

_T = TypeVar("_T")


class _Refused(Exception):
    """Internal: a permanent refusal met while connected, raised past the retry loop."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(str(error))
        self.error = error


class _PinnedHostClient(asyncssh.SSHClient):
    """Remembers the key a server offered when it was not one of the pinned keys."""

    def __init__(self, offered: list[str]) -> None:
        self._offered = offered

    def validate_host_public_key(
        self, host: str, addr: str, port: int, key: asyncssh.SSHKey
    ) -> bool:
        """Record the fingerprint of an unpinned server key and refuse it."""
        self._offered.append(key.get_fingerprint("sha256"))
        return False


class SftpDrop:
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

    def __init__(
        self,
        host: str,
        username: str,
        host_keys: Sequence[str],
        *,
        port: int = 22,
        path: str = ".",
        password: SecretStr | str | None = None,
        client_key: SecretStr | str | None = None,
        retries: int = 3,
        backoff_seconds: float = 1.0,
        connect_timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
        steps: Steps = no_steps,
    ) -> None:
        self._steps = steps
        if not (isinstance(host, str) and host.strip() and host == host.strip()):
            raise ConfigurationError(
                _("SFTP-levermap: host {host} is geen hostnaam").format(
                    host=repr(host),
                )
            )
        if not (isinstance(username, str) and username.strip()):
            raise ConfigurationError(_("SFTP-levermap: username is leeg"))
        if not (isinstance(port, int) and 1 <= port <= 65535):
            raise ConfigurationError(
                _("SFTP-levermap: poort {port} ligt niet tussen 1 en 65535").format(
                    port=repr(port),
                )
            )
        if not (isinstance(retries, int) and retries >= 0):
            raise ConfigurationError(
                _("SFTP-levermap: retries {retries} moet 0 of meer zijn").format(
                    retries=repr(retries),
                )
            )
        if backoff_seconds < 0 or connect_timeout <= 0:
            raise ConfigurationError(
                _("SFTP-levermap: backoff_seconds moet 0 of meer zijn en connect_timeout boven 0")
            )
        if not isinstance(path, str) or "\x00" in path or "\n" in path:
            raise ConfigurationError(
                _("SFTP-levermap: pad {path} is geen map op de server").format(
                    path=repr(path),
                )
            )
        if (password is None) == (client_key is None):
            raise ConfigurationError(
                _(
                    "SFTP-levermap voor {username}@{host}: geef precies één van een "
                    "wachtwoord en een privésleutel"
                ).format(
                    username=username,
                    host=host,
                )
            )
        self._host = host
        self._username = username
        self._port = port
        self._path = posixpath.normpath(path or ".")
        self._password = _secret(password)
        self._client_key = _secret(client_key)
        self._retries = retries
        self._backoff = float(backoff_seconds)
        self._connect_timeout = float(connect_timeout)
        self._sleep = sleep
        if isinstance(host_keys, str):
            host_keys = [host_keys]
        self._host_keys = tuple(host_keys)
        # Read both now, once: a bad key fails when the drop is built, not at 2 a.m., and
        # no connection attempt parses them again.
        self._pinned = self._read_trusted_keys()
        self._client_keys = self._read_private_keys()

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
        return Receipt(
            supplier=delivery.supplier,
            delivery_id=delivery.delivery_id,
            location=self._url(final),
            files=receipt_files(delivery),
            manifest_sha256=sha256_hex(manifest),
        )

    def remove(self, supplier: str, delivery_id: str) -> bool:
        """Remove a published delivery, for the retention policy.

        The delivery folder is first renamed to a hidden `.removing-<delivery_id>-<random>`
        so that the supplier sees it vanish in one step, then emptied and deleted. Hidden
        leftovers of an earlier interrupted removal of the same delivery are deleted too.

        Args:
            supplier: supplier id.
            delivery_id: the delivery's id.

        Returns:
            True if the delivery (or what an interrupted removal left of it) was removed;
            False if there was nothing of it.

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
                await self._check_root(sftp)
                found = await _read_or_none(sftp, f"{final}/{MANIFEST_NAME}")
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
                if await _lstat(sftp, supplier_dir) is None:
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
                if await _lstat(sftp, supplier_dir) is None:
                    return 0
                with self._step(
                    _("{folder} opruimen").format(folder=supplier_dir), _("roep het opnieuw aan")
                ):
                    return await _delete_hidden(sftp, supplier_dir, INCOMING, delivery_id)

        return self._with_retries(
            attempt,
            action=_("{folder} opruimen").format(folder=supplier_dir),
            outcome=_("roep het opnieuw aan"),
        )

    # --- one attempt, on one connection ----------------------------------------------------

    async def _publish_once(self, delivery: Delivery, manifest: bytes, *, retrying: bool) -> None:
        async with self._sftp() as sftp:
            await publish_staged(
                _SftpStaging(self, sftp, delivery), delivery, manifest, self._steps
            )

    async def _remove_once(self, supplier: str, delivery_id: str) -> bool:
        supplier_dir = posixpath.join(self._path, supplier)
        final = posixpath.join(supplier_dir, delivery_id)
        async with self._sftp() as sftp:
            # A missing root fails here, so that an unmounted or renamed remote folder never
            # looks like an already removed delivery.
            await self._check_root(sftp)
            if await _lstat(sftp, supplier_dir) is None:
                return False
            with self._step(
                _("resten van een eerdere verwijdering in {folder} wissen").format(
                    folder=supplier_dir
                ),
                _("de levering is niet verwijderd"),
            ):
                leftovers = await _delete_hidden(sftp, supplier_dir, REMOVING, delivery_id)
            attrs = await _lstat(sftp, final)
            if attrs is None:
                return leftovers > 0
            # lstat, not stat: a link is not a delivery, and deleting through it could reach
            # files outside the drop.
            manifest = None
            if attrs.type == asyncssh.FILEXFER_TYPE_DIRECTORY:
                manifest = await _lstat(sftp, f"{final}/{MANIFEST_NAME}")
            if manifest is None or manifest.type != asyncssh.FILEXFER_TYPE_REGULAR:
                raise _Refused(
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
            with self._step(
                _("{final} intrekken").format(final=final), _("er is niets verwijderd")
            ):
                await sftp.rename(final, hidden)
            with self._step(
                _("{hidden} wissen").format(hidden=hidden),
                _(
                    "de levering is ingetrokken maar haar verborgen map blijft staan; roep "
                    "remove opnieuw aan om af te ronden"
                ),
            ):
                await sftp.rmtree(hidden)
            return True

    @contextlib.asynccontextmanager
    async def _sftp(self) -> AsyncIterator[asyncssh.SFTPClient]:
        """Open a fresh connection and SFTP session with pinned host keys only."""
        offered: list[str] = []
        try:
            connection = await asyncssh.connect(
                self._host,
                port=self._port,
                username=self._username,
                password=(
                    self._password.get_secret_value() if self._password is not None else None
                ),
                client_keys=self._client_keys,
                # Trust nothing from the machine: no ~/.ssh/config, known_hosts or agent.
                config=None,
                known_hosts=(self._pinned, [], [], [], [], [], []),
                server_host_key_algs=self._host_key_algs(),
                agent_path=None,
                agent_forwarding=False,
                gss_auth=False,
                gss_kex=False,
                preferred_auth=(
                    "password,keyboard-interactive" if self._password is not None else "publickey"
                ),
                client_factory=lambda: _PinnedHostClient(offered),
                connect_timeout=self._connect_timeout,
                login_timeout=self._connect_timeout,
                # A server that stops answering mid-upload is dropped instead of hanging.
                keepalive_interval=max(self._connect_timeout / 3, 1.0),
                keepalive_count_max=3,
            )
        except asyncssh.HostKeyNotVerifiable:
            raise _Refused(self._host_key_error(offered)) from None
        except asyncssh.KeyExchangeFailed as exc:
            if "host key" in exc.reason.lower():
                raise _Refused(self._host_key_error(offered)) from None
            raise _Refused(
                PermanentDeliveryError(
                    _(
                        "geen verbinding met {value}: de server en Sluis hebben geen "
                        "SSH-algoritme gemeen ({reason}); overleg met de leverancier"
                    ).format(
                        value=self._where(),
                        reason=exc.reason,
                    )
                )
            ) from None
        except asyncssh.PermissionDenied:
            raise _Refused(
                PermanentDeliveryError(
                    _(
                        "SFTP-aanmelding als {username} op {host}:{port} is geweigerd; "
                        "controleer het wachtwoord of de sleutel in het genoemde geheim"
                    ).format(
                        username=repr(self._username),
                        host=self._host,
                        port=self._port,
                    )
                )
            ) from None
        except (asyncssh.IllegalUserName, asyncssh.ProtocolNotSupported) as exc:
            raise _Refused(
                PermanentDeliveryError(
                    _("geen verbinding met {value}: {reason}").format(
                        value=self._where(),
                        reason=exc.reason,
                    )
                )
            ) from None
        async with connection:
            try:
                sftp = await connection.start_sftp_client()
            except asyncssh.ChannelOpenError as exc:
                if exc.code == asyncssh.OPEN_RESOURCE_SHORTAGE:
                    raise
                raise _Refused(
                    PermanentDeliveryError(
                        _("{value} weigerde een SFTP-sessie: {reason}").format(
                            value=self._where(),
                            reason=exc.reason,
                        )
                    )
                ) from None
            async with sftp:
                yield sftp

    async def _check_root(self, sftp: asyncssh.SFTPClient) -> None:
        # A missing root is a configuration error: creating it could put the deliveries
        # where the supplier never looks.
        attrs = await _lstat(sftp, self._path, follow=True)
        if attrs is None or attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise _Refused(
                PermanentDeliveryError(
                    _(
                        "map {path} op {host}:{port} bestaat niet of is geen map; "
                        "controleer het pad van de levermap in de overeenkomst"
                    ).format(
                        path=repr(self._path),
                        host=self._host,
                        port=self._port,
                    )
                )
            )

    async def _ensure_supplier_dir(self, sftp: asyncssh.SFTPClient, supplier_dir: str) -> None:
        attrs = await _lstat(sftp, supplier_dir, follow=True)
        if attrs is None:
            try:
                await sftp.mkdir(supplier_dir, asyncssh.SFTPAttrs(permissions=DIR_MODE))
            except asyncssh.SFTPError as exc:
                if isinstance(exc, _SFTP_LOST):
                    raise
                # Another publish for this supplier may have created it just now.
                attrs = await _lstat(sftp, supplier_dir, follow=True)
                if attrs is None:
                    raise _Refused(
                        self._sftp_error(exc, _("{folder} maken").format(folder=supplier_dir))
                    ) from None
            else:
                await _set_mode(sftp, supplier_dir, DIR_MODE)
                return
        if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise _Refused(
                PermanentDeliveryError(
                    _("publiceren naar {value} lukt niet: het bestaat en is geen map").format(
                        value=self._url(supplier_dir),
                    )
                )
            )

    @contextlib.contextmanager
    def _step(self, what: str, outcome: str | None = None) -> Iterator[None]:
        """Turn an SFTP status error of one step into the delivery error it means."""
        try:
            yield
        except asyncssh.SFTPError as exc:
            if isinstance(exc, _SFTP_LOST):
                raise
            raise _Refused(
                self._sftp_error(exc, what, outcome or _("er is niets gepubliceerd"))
            ) from None

    # --- retries and errors ----------------------------------------------------------------

    def _with_retries(
        self,
        attempt: Callable[[bool], Awaitable[_T]],
        *,
        action: str,
        outcome: str,
    ) -> _T:
        """Run `attempt` on fresh connections until it works or the retries are used up."""
        reason = ""
        for number in range(self._retries + 1):
            if number:
                self._sleep(self._backoff * 2 ** (number - 1))
            try:
                return _run(functools.partial(attempt, number > 0))
            except _Refused as refused:
                raise refused.error from None
            except asyncssh.ChannelOpenError as exc:
                reason = _("de server heeft te weinig middelen ({reason})").format(
                    reason=exc.reason
                )
            except asyncssh.SFTPError as exc:
                if not isinstance(exc, _SFTP_LOST):
                    # The server answered and said no: a fresh connection hears the same.
                    raise self._sftp_error(exc, action, outcome) from None
                reason = _reason(exc)
            except (asyncssh.DisconnectError, OSError) as exc:
                # Refused, reset and lost connections and timeouts (asyncio.TimeoutError is
                # an OSError); host key and login refusals became _Refused in _sftp.
                reason = _reason(exc)
        attempts = self._retries + 1
        raise TransientDeliveryError(
            _(
                "{action} op {value} lukt niet: {reason}; opgegeven na {attempts} "
                "poging(en); {outcome}"
            ).format(
                action=action,
                value=self._where(),
                reason=reason,
                attempts=attempts,
                value2="s" if attempts != 1 else "",
                outcome=outcome,
            )
        )

    def _host_key_error(self, offered: list[str]) -> PermanentDeliveryError:
        keys = self._pinned
        pinned = ", ".join(key.get_fingerprint("sha256") for key in keys)
        if offered:
            shown = _("de server bood {key} aan").format(key=offered[-1])
        else:
            # Only a server with no key of any type Sluis knows never shows its key.
            types = ", ".join(sorted({key.get_algorithm() for key in keys}))
            shown = _("de server heeft geen hostsleutel van het vastgelegde type ({types})").format(
                types=types
            )
        return PermanentDeliveryError(
            _(
                "de SFTP-hostsleutel van {host}:{port} is niet de vastgelegde: "
                "{shown}, de overeenkomst legt {pinned} vast; er is niets "
                "verstuurd. Het kan een andere server zijn of een gewijzigde "
                "sleutel: controleer dat bij de leverancier en zet de nieuwe "
                "sleutel in drop.host_key van de overeenkomst"
            ).format(
                host=self._host,
                port=self._port,
                shown=shown,
                pinned=pinned,
            )
        )

    def _sftp_error(
        self, exc: asyncssh.SFTPError, what: str, outcome: str | None = None
    ) -> DeliveryError:
        message = _("{what} op {where} lukt niet: {reason}; {outcome}").format(
            what=what,
            where=self._where(),
            reason=_reason(exc),
            outcome=outcome or _("er is niets gepubliceerd"),
        )
        if isinstance(exc, _SFTP_TRANSIENT):
            return TransientDeliveryError(message)
        return PermanentDeliveryError(message)

    def _exists_error(self, delivery: Delivery, final: str) -> PermanentDeliveryError:
        return PermanentDeliveryError(
            _(
                "levering {delivery_id} voor leverancier {supplier} bestaat al in "
                "{value}; een gepubliceerde levering wordt nooit vervangen"
            ).format(
                delivery_id=repr(delivery.delivery_id),
                supplier=repr(delivery.supplier),
                value=self._url(final),
            )
        )

    # --- small helpers ---------------------------------------------------------------------

    def _where(self) -> str:
        return self._url(self._path)

    def _url(self, remote: str) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        # A relative remote path is relative to the login folder: "~" in an sftp URL.
        shown = remote if remote.startswith("/") else "/~" if remote == "." else f"/~/{remote}"
        return f"sftp://{quote(self._username, safe='')}@{host}:{self._port}{quote(shown)}"

    def _read_trusted_keys(self) -> list[asyncssh.SSHKey]:
        if not self._host_keys:
            raise ConfigurationError(
                _(
                    "SFTP-levermap voor {host}: geen hostsleutel vastgelegd; zet de "
                    "publieke sleutel van de server (zoals in known_hosts) in "
                    "drop.host_key van de overeenkomst"
                ).format(
                    host=self._host,
                )
            )
        keys = []
        for number, line in enumerate(self._host_keys, start=1):
            try:
                keys.append(asyncssh.import_public_key(line.strip()))
            except (asyncssh.KeyImportError, ValueError, TypeError, AttributeError):
                raise ConfigurationError(
                    _(
                        "SFTP-levermap voor {host}: hostsleutel {number} is geen regel met "
                        "een publieke sleutel zoals 'ssh-ed25519 AAAA... commentaar'"
                    ).format(
                        host=self._host,
                        number=number,
                    )
                ) from None
        return keys

    def _host_key_algs(self) -> list[str]:
        # The pinned key types first, so that a server with one of them uses it; then every
        # other type, so that a server without one still shows its key, the refusal is
        # made here (not by a server hanging up, which can look like a lost connection)
        # and can name the key's fingerprint. Trust still comes from the pinned keys only.
        pinned = [alg for key in self._pinned for alg in key.sig_algorithms]
        algs = [*pinned, *get_default_public_key_algs()]
        return list(dict.fromkeys(alg.decode("ascii") for alg in algs))

    def _read_private_keys(self) -> list[asyncssh.SSHKey] | None:
        if self._client_key is None:
            return None
        try:
            return [asyncssh.import_private_key(self._client_key.get_secret_value())]
        except (asyncssh.KeyImportError, ValueError, TypeError):
            # The parser's message may quote the key; say only what to fix.
            raise ConfigurationError(
                _(
                    "SFTP-levermap voor {username}@{host}: de privésleutel is "
                    "onleesbaar; het moet een onversleutelde OpenSSH- of "
                    "PEM-privésleutel zijn"
                ).format(
                    username=self._username,
                    host=self._host,
                )
            ) from None


class _SftpStaging(Staging):
    """The SFTP drop's primitive operations for one publish, on one connection."""

    def __init__(self, drop: SftpDrop, sftp: asyncssh.SFTPClient, delivery: Delivery) -> None:
        self._drop = drop
        self._sftp = sftp
        self._delivery = delivery
        self._folder = posixpath.join(drop._path, delivery.supplier)

    def _remote(self, *names: str) -> str:
        return posixpath.join(self._folder, *names)

    async def prepare(self) -> None:
        """Check the remote folder and make the supplier's folder in it."""
        await self._drop._check_root(self._sftp)
        await self._drop._ensure_supplier_dir(self._sftp, self._folder)

    async def exists(self, name: str) -> bool:
        """Whether `name` is there (lstat: a link counts)."""
        return await _lstat(self._sftp, self._remote(name)) is not None

    async def holds(self, name: str, manifest: bytes) -> bool:
        """Whether `name` holds these manifest bytes: the manifest lists each file's hash."""
        return await _read_or_none(self._sftp, self._remote(name, MANIFEST_NAME)) == manifest

    def exists_error(self) -> _Refused:
        """A published delivery is never replaced; refused without a retry."""
        return _Refused(
            self._drop._exists_error(self._delivery, self._remote(self._delivery.delivery_id))
        )

    async def forget_earlier_attempts(self) -> None:
        """Delete the staging folders an attempt that lost its connection left behind."""
        with contextlib.suppress(asyncssh.SFTPError):
            await _delete_hidden(self._sftp, self._folder, INCOMING, self._delivery.delivery_id)

    async def make_folder(self, name: str) -> None:
        """Make the staging folder with DIR_MODE."""
        with self._drop._step(_("tussenmap in {folder} maken").format(folder=self._folder)):
            await self._sftp.mkdir(self._remote(name), asyncssh.SFTPAttrs(permissions=DIR_MODE))
            await _set_mode(self._sftp, self._remote(name), DIR_MODE)

    async def write(self, folder: str, name: str, content: bytes) -> None:
        """Upload the file with FILE_MODE, fsynced where the server can."""
        with self._drop._step(_("{name} uploaden").format(name=name)):
            await _upload(self._sftp, self._remote(folder, name), content)

    async def seal(self, folder: str) -> None:
        """Nothing: SFTP cannot sync a folder; each upload was fsynced where the server can."""

    async def rename(self, folder: str, name: str) -> None:
        """Rename the staging folder into place; a taken name is the exists error."""
        final = self._remote(name)
        try:
            # Plain SFTP rename never replaces an existing name (no posix-rename).
            await self._sftp.rename(self._remote(folder), final)
        except asyncssh.SFTPError as exc:
            if isinstance(exc, _SFTP_LOST):
                raise
            if await _lstat(self._sftp, final) is not None:
                raise self.exists_error() from None
            raise _Refused(
                self._drop._sftp_error(
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


def _secret(value: SecretStr | str | None) -> SecretStr | None:
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def _run(make: Callable[[], Awaitable[_T]]) -> _T:
    """Run a coroutine to its end from synchronous code, in this thread if it can."""

    async def main() -> _T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # A loop already runs in this thread (publish called from async code): asyncio.run
    # refuses to nest, so run on a helper thread with a loop of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluis-sftp") as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def _reason(exc: BaseException) -> str:
    """Describe an error without its arguments, which could carry more than we want shown."""
    if isinstance(exc, asyncssh.DisconnectError):
        return f"{type(exc).__name__}: {exc.reason}"
    if isinstance(exc, asyncssh.SFTPError):
        return f"{type(exc).__name__}: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return _("time-out")
    if isinstance(exc, OSError) and exc.strerror:
        return f"{type(exc).__name__}: {exc.strerror}"
    return type(exc).__name__


async def _lstat(
    sftp: asyncssh.SFTPClient, path: str, *, follow: bool = False
) -> asyncssh.SFTPAttrs | None:
    """Return the attributes of `path`, or None if it does not exist."""
    try:
        return await (sftp.stat(path) if follow else sftp.lstat(path))
    except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
        return None


async def _read_or_none(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
    try:
        async with sftp.open(path, "rb") as handle:
            content = await handle.read()
    except asyncssh.SFTPError as exc:
        if isinstance(exc, _SFTP_LOST):
            raise
        return None
    return content if isinstance(content, bytes) else None


async def _set_mode(sftp: asyncssh.SFTPClient, path: str, mode: int) -> None:
    # mkdir and open modes are cut by the server's umask; set them exactly where the
    # server allows it. Some supplier servers forbid setstat: the delivery still goes out.
    with contextlib.suppress(*_SETSTAT_REFUSED):
        await sftp.chmod(path, mode)


async def _upload(sftp: asyncssh.SFTPClient, path: str, content: bytes) -> None:
    # "x": exclusive create, never write through a file someone placed in the staging folder.
    async with sftp.open(path, "xb", asyncssh.SFTPAttrs(permissions=FILE_MODE)) as handle:
        with contextlib.suppress(*_SETSTAT_REFUSED):
            await handle.chmod(FILE_MODE)
        await handle.write(content)
        # fsync@openssh.com where the server has it, so that the rename commits data.
        with contextlib.suppress(asyncssh.SFTPOpUnsupported):
            await handle.fsync()


async def _delete_hidden(
    sftp: asyncssh.SFTPClient, supplier_dir: str, kind: str, delivery_id: str
) -> int:
    """Delete `<kind>-<delivery_id>-<token>` folders in `supplier_dir`; return how many."""
    names = [str(name) for name in await sftp.listdir(supplier_dir)]
    deleted = 0
    for name in sorted(names):
        if is_hidden_of(name, kind, delivery_id):
            await sftp.rmtree(posixpath.join(supplier_dir, name))
            deleted += 1
    return deleted
