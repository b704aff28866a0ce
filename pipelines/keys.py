"""Per-supplier pseudonym secrets: from settings, or generated once into the state folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from connectors.errors import ConfigurationError
from connectors.private_files import make_private_dir

__all__ = ["pseudonym_secret", "rotate_generated_key"]


def pseudonym_secret(supplier: str, configured: dict[str, SecretStr], state_dir: Path) -> bytes:
    """Return the HMAC secret for a supplier.

    A configured key wins. Otherwise a random 32-byte key is generated the first time and
    kept in <state_dir>/keys/<supplier>.key, readable by the owner only; losing it changes
    every pseudonym the supplier has seen, so it is never regenerated silently.
    """
    if supplier in configured:
        value = configured[supplier].get_secret_value().encode("utf-8")
        if len(value) < 16:
            raise ConfigurationError(
                f"SLUIS_PSEUDONYM_KEYS: the key for {supplier} is shorter than 16 characters"
            )
        return value
    folder = state_dir / "keys"
    path = folder / f"{supplier}.key"
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise ConfigurationError(
                f"{path}: pseudonym key is readable by others; run chmod 600 {path}"
            )
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    make_private_dir(folder)
    os.chmod(folder, 0o700)  # also a keys folder made before Sluis made it private
    key = secrets.token_bytes(32)
    # O_EXCL: two runs starting at once must not each write a different key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key.hex() + "\n")
    return key


def rotate_generated_key(name: str, state_dir: Path) -> Path:
    """Replace a generated key with a new random one; the old key is destroyed, not kept.

    Keeping the old key would keep old pseudonyms linkable to new ones, which is what a
    rotation is meant to end.

    Raises:
        ConfigurationError: there is no generated key of that name.
    """
    path = state_dir / "keys" / f"{name}.key"
    if not path.exists():
        raise ConfigurationError(
            f"{path}: no generated key to rotate; a key from settings is rotated by changing "
            "the setting"
        )
    fresh = path.with_suffix(".new")
    fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_bytes(32).hex() + "\n")
    os.replace(fresh, path)
    return path
