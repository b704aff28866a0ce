"""SFTP drop: the connection, with pinned host keys, login, retries and the errors they give."""

from __future__ import annotations

import contextlib
import functools
import logging
import posixpath
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from urllib.parse import quote

import asyncssh
from asyncssh.public_key import get_default_public_key_algs
from pydantic import SecretStr

from connectors.drops.base import Delivery, Steps, no_steps
from connectors.drops.sftp_remote import (
    DIR_MODE,
    SFTP_LOST,
    SFTP_TRANSIENT,
    Refusal,
    T,
    as_secret,
    describe_error,
    lstat_or_none,
    run_coroutine,
    set_mode,
)
from connectors.errors import (
    ConfigurationError,
    DeliveryError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from connectors.i18n import _

# asyncssh logs every connection, login and SFTP request at INFO; those records would land
# in the run logs with host names, user names and paths. Warnings still come through.
asyncssh.set_log_level(logging.WARNING)


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


class SftpConnection:
    """An SFTP server reached with its pinned host keys only: settings, connections, retries.

    SftpDrop builds on it; its docstring lists the arguments.
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
        self._password = as_secret(password)
        self._client_key = as_secret(client_key)
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

    @property
    def root(self) -> str:
        """The remote folder the supplier folders go under, normalised."""
        return self._path

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
            raise Refusal(self._host_key_error(offered)) from None
        except asyncssh.KeyExchangeFailed as exc:
            if "host key" in exc.reason.lower():
                raise Refusal(self._host_key_error(offered)) from None
            raise Refusal(
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
            raise Refusal(
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
            raise Refusal(
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
                raise Refusal(
                    PermanentDeliveryError(
                        _("{value} weigerde een SFTP-sessie: {reason}").format(
                            value=self._where(),
                            reason=exc.reason,
                        )
                    )
                ) from None
            async with sftp:
                yield sftp

    async def check_root(self, sftp: asyncssh.SFTPClient) -> None:
        """Refuse a remote folder that is missing or not a folder; it is never created."""
        # A missing root is a configuration error: creating it could put the deliveries
        # where the supplier never looks.
        attrs = await lstat_or_none(sftp, self._path, follow=True)
        if attrs is None or attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise Refusal(
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

    async def ensure_supplier_dir(self, sftp: asyncssh.SFTPClient, supplier_dir: str) -> None:
        """Make the supplier's folder with DIR_MODE unless it is there; refuse a non-folder."""
        attrs = await lstat_or_none(sftp, supplier_dir, follow=True)
        if attrs is None:
            try:
                await sftp.mkdir(supplier_dir, asyncssh.SFTPAttrs(permissions=DIR_MODE))
            except asyncssh.SFTPError as exc:
                if isinstance(exc, SFTP_LOST):
                    raise
                # Another publish for this supplier may have created it just now.
                attrs = await lstat_or_none(sftp, supplier_dir, follow=True)
                if attrs is None:
                    raise Refusal(
                        self.sftp_error(exc, _("{folder} maken").format(folder=supplier_dir))
                    ) from None
            else:
                await set_mode(sftp, supplier_dir, DIR_MODE)
                return
        if attrs.type != asyncssh.FILEXFER_TYPE_DIRECTORY:
            raise Refusal(
                PermanentDeliveryError(
                    _("publiceren naar {value} lukt niet: het bestaat en is geen map").format(
                        value=self._url(supplier_dir),
                    )
                )
            )

    @contextlib.contextmanager
    def step(self, what: str, outcome: str | None = None) -> Iterator[None]:
        """Turn an SFTP status error of one step into the delivery error it means."""
        try:
            yield
        except asyncssh.SFTPError as exc:
            if isinstance(exc, SFTP_LOST):
                raise
            raise Refusal(
                self.sftp_error(exc, what, outcome or _("er is niets gepubliceerd"))
            ) from None

    # --- retries and errors ----------------------------------------------------------------

    def _with_retries(
        self,
        attempt: Callable[[bool], Awaitable[T]],
        *,
        action: str,
        outcome: str,
    ) -> T:
        """Run `attempt` on fresh connections until it works or the retries are used up."""
        reason = ""
        for number in range(self._retries + 1):
            if number:
                self._sleep(self._backoff * 2 ** (number - 1))
            try:
                return run_coroutine(functools.partial(attempt, number > 0))
            except Refusal as refused:
                raise refused.error from None
            except asyncssh.ChannelOpenError as exc:
                reason = _("de server heeft te weinig middelen ({reason})").format(
                    reason=exc.reason
                )
            except asyncssh.SFTPError as exc:
                if not isinstance(exc, SFTP_LOST):
                    # The server answered and said no: a fresh connection hears the same.
                    raise self.sftp_error(exc, action, outcome) from None
                reason = describe_error(exc)
            except (asyncssh.DisconnectError, OSError) as exc:
                # Refused, reset and lost connections and timeouts (asyncio.TimeoutError is
                # an OSError); host key and login refusals became Refusal in _sftp.
                reason = describe_error(exc)
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

    def sftp_error(
        self, exc: asyncssh.SFTPError, what: str, outcome: str | None = None
    ) -> DeliveryError:
        """The delivery error for an SFTP status error (transient: server full or busy)."""
        message = _("{what} op {where} lukt niet: {reason}; {outcome}").format(
            what=what,
            where=self._where(),
            reason=describe_error(exc),
            outcome=outcome or _("er is niets gepubliceerd"),
        )
        if isinstance(exc, SFTP_TRANSIENT):
            return TransientDeliveryError(message)
        return PermanentDeliveryError(message)

    def exists_error(self, delivery: Delivery, final: str) -> PermanentDeliveryError:
        """A delivery with this id is published already: never replaced."""
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
