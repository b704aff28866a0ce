"""The drop of each agreement, with its secret looked up by name: settings, then Prefect.

An agreement names its SFTP secret; the value (a password, or a private key in OpenSSH or
PEM form) comes from `SLUIS_SECRETS` or a Prefect Secret block of that name, and is handed
to the drop as a SecretStr, so it never shows in a repr, log line or task parameter.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from connectors.drops.base import Drop
from connectors.drops.folder import FolderDrop
from connectors.drops.registry import get_drop
from connectors.errors import ConfigurationError
from connectors.i18n import _
from contracts.agreements import Agreement, FolderDropSettings, SftpDropSettings
from pipelines.settings import Settings
from pipelines.stopping import step

__all__ = ["archive_drop", "drop_for", "held_drop", "lookup_secret"]


def lookup_secret(name: str, settings: Settings) -> SecretStr:
    """The secret called `name`: from SLUIS_SECRETS, else a Prefect Secret block.

    Raises:
        ConfigurationError: neither has it; the message says how to add it.
    """
    configured = settings.secrets.get(name)
    if configured is not None:
        return configured
    value = _prefect_secret(name)
    if value is None:
        raise ConfigurationError(
            _(
                "geheim {name} niet gevonden: voeg het toe aan SLUIS_SECRETS (een JSON-object "
                "van naam naar waarde), of maak een Prefect Secret-blok {name} aan op de "
                "Prefect-server (PREFECT_API_URL) waarop Sluis draait"
            ).format(name=repr(name))
        )
    return SecretStr(value)


def _prefect_secret(name: str) -> str | None:
    """The value of Secret block `name` from a Prefect API that is there already, or None.

    Only inside a flow run or with PREFECT_API_URL set: a lookup must never start a
    temporary Prefect server of its own (10-25 s, and a database in the home folder).
    """
    from prefect.context import FlowRunContext
    from prefect.settings import PREFECT_API_URL

    if FlowRunContext.get() is None and not PREFECT_API_URL.value():
        return None
    from prefect.blocks.system import Secret

    try:
        block = Secret.load(name, _sync=True)  # type: ignore[call-arg]
    except ValueError:  # no block of that name
        return None
    value = block.get()  # type: ignore[union-attr]
    return value if isinstance(value, str) else str(value)


def drop_for(agreement: Agreement, settings: Settings, drop_root: Path) -> Drop:
    """Build the drop an agreement names."""
    settings_of_drop = agreement.drop
    if isinstance(settings_of_drop, FolderDropSettings):
        return FolderDrop(drop_root, steps=step)
    if isinstance(settings_of_drop, SftpDropSettings):
        secret = lookup_secret(settings_of_drop.secret, settings)
        is_key = secret.get_secret_value().lstrip().startswith("-----BEGIN")
        return get_drop(
            "sftp",
            host=settings_of_drop.host,
            port=settings_of_drop.port,
            username=settings_of_drop.username,
            path=settings_of_drop.path,
            host_keys=list(settings_of_drop.host_key),
            retries=settings_of_drop.retries,
            steps=step,
            **({"client_key": secret} if is_key else {"password": secret}),
        )
    raise ConfigurationError(
        _("{supplier}: onbekend soort levermap").format(supplier=agreement.id)
    )  # pragma: no cover


def held_drop(settings: Settings) -> FolderDrop:
    """Where deliveries wait for approval: <state>/held/<supplier>/<delivery>/."""
    return FolderDrop(settings.state_dir / "held", create_root=True, private=True)


def archive_drop(settings: Settings) -> FolderDrop:
    """Where a copy of each published delivery is kept for re-delivery."""
    return FolderDrop(settings.state_dir / "archive", create_root=True, private=True)
