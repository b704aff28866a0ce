"""SFTP drop: the file operations on the server (stat, read, upload, delete) and error helpers."""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import asyncssh
from pydantic import SecretStr

from connectors.drops.base import is_hidden_of
from connectors.errors import DeliveryError
from connectors.i18n import _

# Deliveries hold personal data: the owner writes, the supplier's group reads, nobody else.
FILE_MODE = 0o640
DIR_MODE = 0o750


# SFTP status errors that say the server is fine but full or busy: the caller may try again
# later, but retrying at once on a fresh connection would meet the same.
SFTP_TRANSIENT = (
    asyncssh.SFTPNoSpaceOnFilesystem,
    asyncssh.SFTPQuotaExceeded,
    asyncssh.SFTPLockConflict,
    asyncssh.SFTPFailure,
)
# SFTP status errors that mean the connection went away: retried like a lost connection.
SFTP_LOST = (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection)
# What a server may refuse when asked to set modes; the delivery still goes out.
_SETSTAT_REFUSED = (
    asyncssh.SFTPOpUnsupported,
    asyncssh.SFTPPermissionDenied,
    asyncssh.SFTPFailure,
)

T = TypeVar("T")


class Refusal(Exception):
    """Internal: a permanent refusal met while connected, raised past the retry loop."""

    def __init__(self, error: DeliveryError) -> None:
        super().__init__(str(error))
        self.error = error


def as_secret(value: SecretStr | str | None) -> SecretStr | None:
    """The secret as a SecretStr; None stays None."""
    if value is None or isinstance(value, SecretStr):
        return value
    return SecretStr(value)


def run_coroutine(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to its end from synchronous code, in this thread if it can."""

    async def main() -> T:
        return await make()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    # A loop already runs in this thread (publish called from async code): asyncio.run
    # refuses to nest, so run on a helper thread with a loop of its own.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="sluis-sftp") as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def describe_error(exc: BaseException) -> str:
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


async def lstat_or_none(
    sftp: asyncssh.SFTPClient, path: str, *, follow: bool = False
) -> asyncssh.SFTPAttrs | None:
    """Return the attributes of `path`, or None if it does not exist."""
    try:
        return await (sftp.stat(path) if follow else sftp.lstat(path))
    except (asyncssh.SFTPNoSuchFile, asyncssh.SFTPNoSuchPath):
        return None


async def read_or_none(sftp: asyncssh.SFTPClient, path: str) -> bytes | None:
    """The file's bytes, or None when it cannot be read (a lost connection still raises)."""
    try:
        async with sftp.open(path, "rb") as handle:
            content = await handle.read()
    except asyncssh.SFTPError as exc:
        if isinstance(exc, SFTP_LOST):
            raise
        return None
    return content if isinstance(content, bytes) else None


async def set_mode(sftp: asyncssh.SFTPClient, path: str, mode: int) -> None:
    """Set `path`'s mode where the server allows it."""
    # mkdir and open modes are cut by the server's umask; set them exactly where the
    # server allows it. Some supplier servers forbid setstat: the delivery still goes out.
    with contextlib.suppress(*_SETSTAT_REFUSED):
        await sftp.chmod(path, mode)


async def upload_file(sftp: asyncssh.SFTPClient, path: str, content: bytes) -> None:
    """Upload `content` to a new file `path` with FILE_MODE, fsynced where the server can."""
    # "x": exclusive create, never write through a file someone placed in the staging folder.
    async with sftp.open(path, "xb", asyncssh.SFTPAttrs(permissions=FILE_MODE)) as handle:
        with contextlib.suppress(*_SETSTAT_REFUSED):
            await handle.chmod(FILE_MODE)
        await handle.write(content)
        # fsync@openssh.com where the server has it, so that the rename commits data.
        with contextlib.suppress(asyncssh.SFTPOpUnsupported):
            await handle.fsync()


async def delete_hidden(
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
