"""Encrypting data files for a supplier's age public key (pyrage).

Encryption sits between rendering and publishing: the drop and the manifest see only the
encrypted files, so the hashes a supplier checks are of the bytes it receives. age
encryption is randomised, so an encrypted delivery is not byte-identical between runs;
the row counts and the manifest's field list are.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyrage
from pyrage import x25519

from connectors.errors import ConfigurationError
from connectors.formats.base import DataFile
from connectors.i18n import _

__all__ = ["ENCRYPTED_SUFFIX", "encrypt_files", "parse_recipient"]

ENCRYPTED_SUFFIX = ".age"


def parse_recipient(recipient: str) -> x25519.Recipient:
    """Parse an age X25519 public key ("age1...").

    Raises:
        ConfigurationError: it is not a valid age public key.
    """
    try:
        return x25519.Recipient.from_str(recipient.strip())
    except (ValueError, pyrage.RecipientError, TypeError):
        raise ConfigurationError(
            _(
                "geen geldige publieke age-sleutel; vraag de leverancier om de "
                "regel die met age1 begint en die `age-keygen` als 'public key' "
                "toonde"
            )
        ) from None


def encrypt_files(files: Sequence[DataFile], recipient: str) -> list[DataFile]:
    """Return each file encrypted for `recipient`, named `<name>.age`, with its row count.

    Raises:
        ConfigurationError: the recipient is not a valid age public key.
    """
    key = parse_recipient(recipient)
    return [
        DataFile(
            name=f"{data_file.name}{ENCRYPTED_SUFFIX}",
            content=pyrage.encrypt(data_file.content, [key]),
            rows=data_file.rows,
        )
        for data_file in files
    ]
