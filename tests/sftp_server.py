"""An in-process asyncssh SFTP server on 127.0.0.1 for tests, with failure switches.

`sftp_server` (a pytest fixture, re-exported by tests that use it) starts one per test,
chrooted to a tmp folder, and stops it afterwards.
"""

from __future__ import annotations

import asyncio
import os
import posixpath
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from pydantic import SecretStr

from connectors.drops.sftp import SftpDrop

USER = "leverancier"
PASSWORD = "Wachtwoord-ZEER-geheim-4411"


@dataclass
class ServerState:
    """What the server does and what it saw; changed by the server's thread only."""

    root: Path
    password: str | None = PASSWORD
    client_keys: list[asyncssh.SSHKey] = field(default_factory=list)
    connections: int = 0
    events: list[tuple[str, str]] = field(default_factory=list)
    # Abort the connection half-way through writing this file, this many times.
    abort_in: str | None = None
    aborts_left: int = 0
    # Abort the connection just after carrying out a rename, this many times.
    aborts_after_rename: int = 0
    # Refuse creating folders whose name starts with this (permission denied).
    deny_mkdir: str | None = None
    # Refuse every rename (permission denied).
    deny_rename: bool = False
    live: list[asyncssh.SSHServerConnection] = field(default_factory=list)


class _Auth(asyncssh.SSHServer):
    def __init__(self, state: ServerState) -> None:
        self._state = state
        state.connections += 1

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._state.live.append(conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return self._state.password is not None

    def validate_password(self, username: str, password: str) -> bool:
        return username == USER and password == self._state.password

    def public_key_auth_supported(self) -> bool:
        return bool(self._state.client_keys)

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == USER and key in self._state.client_keys


def _file_name(file_obj: object) -> str:
    # The server opens local files by their bytes path.
    return os.path.basename(os.fsdecode(file_obj.name))  # type: ignore[attr-defined]


class _RecordingSFTPServer(asyncssh.SFTPServer):
    """Chrooted SFTP server that records what is written and fails on request."""

    def __init__(self, chan: asyncssh.SSHServerChannel, state: ServerState) -> None:
        super().__init__(chan, chroot=str(state.root).encode())
        self._state = state

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        if pflags & asyncssh.FXF_WRITE:
            self._state.events.append(("open", posixpath.basename(path.decode())))
        return super().open(path, pflags, attrs)

    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        name = _file_name(file_obj)
        state = self._state
        if name == state.abort_in and state.aborts_left > 0:
            state.aborts_left -= 1
            state.events.append(("abort", name))
            # Leave a partial file behind, as a real dropped upload does.
            super().write(file_obj, offset, data[: len(data) // 2])
            file_obj.flush()  # type: ignore[attr-defined]
            self.connection.abort()
            return len(data)
        return super().write(file_obj, offset, data)  # type: ignore[return-value]

    def close(self, file_obj: object) -> None:
        self._state.events.append(("close", _file_name(file_obj)))
        super().close(file_obj)

    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        deny = self._state.deny_mkdir
        if deny is not None and posixpath.basename(path.decode()).startswith(deny):
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        super().mkdir(path, attrs)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        if self._state.deny_rename:
            raise asyncssh.SFTPPermissionDenied("Permission denied")
        super().rename(oldpath, newpath)
        self._state.events.append(("rename", posixpath.basename(newpath.decode())))
        if self._state.aborts_after_rename > 0:
            self._state.aborts_after_rename -= 1
            self.connection.abort()


@dataclass
class SftpServer:
    host: str
    port: int
    root: Path
    state: ServerState
    host_key: asyncssh.SSHKey
    # The server has a second key, of another type, as real servers often do.
    ecdsa_host_key: asyncssh.SSHKey

    @property
    def host_key_line(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    def drop(self, **overrides: Any) -> SftpDrop:
        arguments: dict[str, Any] = {
            "host": self.host,
            "username": USER,
            "host_keys": [self.host_key_line],
            "port": self.port,
            "path": "/",
            "password": SecretStr(PASSWORD),
            "sleep": lambda seconds: None,
            "connect_timeout": 5.0,
        }
        arguments.update(overrides)
        return SftpDrop(**arguments)


@pytest.fixture
def sftp_server(tmp_path: Path) -> Iterator[SftpServer]:
    root = tmp_path / "sftp-root"
    root.mkdir()
    state = ServerState(root=root)
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    ecdsa_host_key = asyncssh.generate_private_key("ecdsa-sha2-nistp256")
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def start() -> None:
        holder["server"] = await asyncssh.listen(
            "127.0.0.1",
            0,
            server_host_keys=[host_key, ecdsa_host_key],
            server_factory=lambda: _Auth(state),
            sftp_factory=lambda chan: _RecordingSFTPServer(chan, state),
            allow_scp=False,
            process_factory=None,
        )
        holder["port"] = holder["server"].sockets[0].getsockname()[1]

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(start())
        finally:
            started.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="sftp-test-server", daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield SftpServer("127.0.0.1", holder["port"], root, state, host_key, ecdsa_host_key)
    finally:

        async def stop() -> None:
            holder["server"].close()
            await holder["server"].wait_closed()
            for conn in state.live:
                conn.close()
                await conn.wait_closed()
            # Let connection cleanup callbacks finish before the loop goes.
            pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
