"""Every error Sluis raises, grouped by what the caller does next.

It lives in the bottom layer so that every package can raise from it without an upward
import. Messages name files, lines, keys, rules and fixes; they never hold a pupil value.

    SluisError                      root; the CLI turns any of these into one line, exit 1
    ├── ConfigurationError          fix the settings or the command line, then run again
    │   ├── UsageError              the command line names something that does not exist
    │   └── AgreementError          a supplier agreement file is malformed or not allowed
    ├── InputError                  the export itself is unusable; nothing is delivered
    │   ├── UnsafeInputError        DTD, external entity, entity expansion: refused outright
    │   └── SourceFormatError       not well-formed, not EDEXML, empty, wrong encoding
    ├── PolicyError                 a delivery would break an agreement or the deny-list
    ├── StagingError                a run's own staged frames are missing or changed
    └── DeliveryError               publishing a delivery failed
        ├── TransientDeliveryError  retry: the drop may work next time (network, lock)
        └── PermanentDeliveryError  do not retry: permissions, missing folder, refused key
"""

from __future__ import annotations

# Values quoted in a message (a header, a file name, a brincode) are cut (connectors.quoting):
# a message names where the problem is, it does not repeat what a file holds.
from connectors.quoting import short as shorten

__all__ = [
    "AgreementError",
    "ConfigurationError",
    "DeliveryError",
    "InputError",
    "PermanentDeliveryError",
    "PolicyError",
    "RunStopped",
    "SluisError",
    "SourceFormatError",
    "StagingError",
    "TransientDeliveryError",
    "UnsafeInputError",
    "UsageError",
    "shorten",
]


class SluisError(Exception):
    """Root of every error Sluis raises on purpose."""


class ConfigurationError(SluisError):
    """Settings, paths or command-line arguments are wrong."""


class UsageError(ConfigurationError):
    """The command line asks for something unknown, e.g. a supplier id (exit code 2)."""


class AgreementError(ConfigurationError):
    """A supplier agreement cannot be loaded: names the file, the key and what is allowed."""


class InputError(SluisError):
    """An input export cannot be used at all."""


class UnsafeInputError(InputError):
    """An XML input uses a DTD or entities; refused before any parsing of content."""


class SourceFormatError(InputError):
    """An input file is not what it claims to be (not well-formed, wrong format, empty)."""


class PolicyError(SluisError):
    """A delivery would contain something its agreement or the deny-list does not allow."""


class StagingError(SluisError):
    """A file the run staged itself is gone or no longer what it wrote: nothing more is sent."""


class DeliveryError(SluisError):
    """Publishing a delivery failed."""


class TransientDeliveryError(DeliveryError):
    """Publishing failed for a reason that may pass; the caller may retry."""


class PermanentDeliveryError(DeliveryError):
    """Publishing failed for a reason a retry will not fix."""


class RunStopped(SluisError):
    """SIGTERM or SIGINT stopped the run; the exit code is 128 + the signal number."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
