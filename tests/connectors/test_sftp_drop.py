"""SFTP drop against a real asyncssh SFTP server on 127.0.0.1, run in this process."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import socket
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncssh
import pytest
from pydantic import SecretStr
from sftp_server import PASSWORD, USER, SftpServer, sftp_server

from connectors.drops.base import MANIFEST_NAME, Delivery, build_manifest, manifest_bytes
from connectors.drops.registry import RemovableDrop, get_drop, known_drops
from connectors.drops.sftp import SftpDrop
from connectors.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from connectors.formats.base import DataFile

__all__ = ["sftp_server"]  # the fixture, used by name

PUPIL = "Zoë-GEHEIM-7781"
NAMES = ("leerlingen.csv", "groepen.csv", "leerkrachten.csv")
COUNTS: dict[str, Any] = {
    "input": 10,
    "delivered": 6,
    "withheld": {"no_consent": 2, "left_school": 1},
    "quarantined": 1,
}


def _delivery(delivery_id: str = "d1", supplier: str = "acme") -> Delivery:
    files = tuple(
        # Large enough to need several SFTP write requests, so an abort lands mid-file.
        DataFile(name=name, content=f"roepnaam\n{PUPIL}-{name}\n".encode() * 4000, rows=4000)
        for name in NAMES
    )
    manifest = build_manifest(
        supplier=supplier,
        run_id=f"run-{delivery_id}",
        school="99XX00",
        created_at="2026-03-01T02:00:00+01:00",
        mode="full",
        files=files,
        fields=["leerlingkey", "roepnaam"],
        counts=COUNTS,
    )
    return Delivery(supplier=supplier, delivery_id=delivery_id, files=files, manifest=manifest)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _assert_only_complete_deliveries(supplier_dir: Path) -> list[str]:
    """Every entry a supplier can see is a folder with a manifest whose files all match."""
    visible = sorted(
        entry.name for entry in supplier_dir.iterdir() if not entry.name.startswith(".")
    )
    for name in visible:
        folder = supplier_dir / name
        assert folder.is_dir(), name
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
        listed = {entry["name"]: entry["sha256"] for entry in manifest["files"]}
        assert sorted(path.name for path in folder.iterdir()) == sorted([*listed, MANIFEST_NAME])
        for file_name, digest in listed.items():
            assert hashlib.sha256((folder / file_name).read_bytes()).hexdigest() == digest
    return visible


def _hidden(supplier_dir: Path) -> list[str]:
    return sorted(entry.name for entry in supplier_dir.iterdir() if entry.name.startswith("."))


# --- publishing ---------------------------------------------------------------------------


def test_sftp_drop_publishes_every_file_and_the_manifest_with_matching_hashes(
    sftp_server: SftpServer,
) -> None:
    delivery = _delivery("2026-03-01.run-42")
    receipt = sftp_server.drop().publish(delivery)

    folder = sftp_server.root / "acme" / "2026-03-01.run-42"
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["2026-03-01.run-42"]
    assert json.loads((folder / MANIFEST_NAME).read_bytes()) == delivery.manifest
    for data_file in delivery.files:
        assert (folder / data_file.name).read_bytes() == data_file.content
    assert receipt.location == f"sftp://{USER}@127.0.0.1:{sftp_server.port}/acme/2026-03-01.run-42"
    assert (
        receipt.manifest_sha256 == hashlib.sha256((folder / MANIFEST_NAME).read_bytes()).hexdigest()
    )
    assert [f.name for f in receipt.files] == list(NAMES)
    assert _hidden(sftp_server.root / "acme") == []
    assert sftp_server.state.connections == 1


def test_sftp_drop_uploads_data_files_first_then_the_manifest_then_renames(
    sftp_server: SftpServer,
) -> None:
    sftp_server.drop().publish(_delivery("d1"))

    events = sftp_server.state.events
    opened = [name for kind, name in events if kind == "open"]
    assert opened == [*NAMES, MANIFEST_NAME]
    manifest_opened = events.index(("open", MANIFEST_NAME))
    for name in NAMES:
        assert events.index(("close", name)) < manifest_opened
    assert events[-1] == ("rename", "d1")
    assert events.index(("close", MANIFEST_NAME)) < events.index(("rename", "d1"))


def test_sftp_drop_makes_files_0640_and_folders_0750(sftp_server: SftpServer) -> None:
    previous = os.umask(0o000)
    try:
        sftp_server.drop().publish(_delivery())
    finally:
        os.umask(previous)
    supplier_dir = sftp_server.root / "acme"
    assert stat.S_IMODE(supplier_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE((supplier_dir / "d1").stat().st_mode) == 0o750
    modes = {stat.S_IMODE(path.stat().st_mode) for path in (supplier_dir / "d1").iterdir()}
    assert modes == {0o640}


def test_sftp_drop_logs_in_with_a_private_key(sftp_server: SftpServer) -> None:
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    sftp_server.state.client_keys = [client_key.convert_to_public()]
    sftp_server.state.password = None
    key_text = client_key.export_private_key().decode()
    drop = sftp_server.drop(password=None, client_key=SecretStr(key_text))

    drop.publish(_delivery())
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]
    assert key_text not in repr(drop)
    assert "BEGIN" not in repr(drop)


def test_sftp_drop_under_a_relative_path_publishes_below_the_login_folder(
    sftp_server: SftpServer,
) -> None:
    (sftp_server.root / "uitwissel").mkdir()
    receipt = sftp_server.drop(path="uitwissel").publish(_delivery())
    assert (sftp_server.root / "uitwissel" / "acme" / "d1" / MANIFEST_NAME).is_file()
    assert receipt.location == f"sftp://{USER}@127.0.0.1:{sftp_server.port}/~/uitwissel/acme/d1"


def test_sftp_drop_refuses_an_existing_delivery_id_and_leaves_it_alone(
    sftp_server: SftpServer,
) -> None:
    drop = sftp_server.drop()
    drop.publish(_delivery("d1"))
    before = (sftp_server.root / "acme" / "d1" / MANIFEST_NAME).read_bytes()

    other = _delivery("d1")
    other = dataclasses.replace(other, manifest={**other.manifest, "run_id": "another-run"})
    with pytest.raises(PermanentDeliveryError, match="nooit vervangen") as caught:
        drop.publish(other)
    assert (sftp_server.root / "acme" / "d1" / MANIFEST_NAME).read_bytes() == before
    assert _hidden(sftp_server.root / "acme") == []
    assert sftp_server.state.connections == 2
    assert "'d1'" in str(caught.value)


def test_sftp_drop_publishing_the_identical_delivery_again_is_done_not_an_error(
    sftp_server: SftpServer,
) -> None:
    # The same-manifest rule: a run killed after the rename retries without a duplicate.
    drop = sftp_server.drop()
    first = drop.publish(_delivery("d1"))
    again = drop.publish(_delivery("d1"))
    assert again == first
    assert sorted(os.listdir(sftp_server.root / "acme")) == ["d1"]


def test_sftp_drop_refuses_a_missing_remote_folder_instead_of_creating_it(
    sftp_server: SftpServer,
) -> None:
    with pytest.raises(PermanentDeliveryError) as caught:
        sftp_server.drop(path="/niet-hier").publish(_delivery())
    message = str(caught.value)
    assert "127.0.0.1" in message
    assert "/niet-hier" in message
    assert sorted(os.listdir(sftp_server.root)) == []
    assert sftp_server.state.connections == 1


def test_sftp_drop_turns_permission_denied_into_a_permanent_error_without_retry(
    sftp_server: SftpServer,
) -> None:
    sftp_server.state.deny_mkdir = ".incoming-"
    delays: list[float] = []
    with pytest.raises(PermanentDeliveryError, match="SFTPPermissionDenied"):
        sftp_server.drop(sleep=delays.append).publish(_delivery())
    assert delays == []
    assert sftp_server.state.connections == 1
    assert os.listdir(sftp_server.root / "acme") == []


def test_sftp_drop_works_when_called_from_a_running_event_loop(sftp_server: SftpServer) -> None:
    drop = sftp_server.drop()

    async def caller() -> str:
        return drop.publish(_delivery()).location

    assert asyncio.run(caller()).endswith("/acme/d1")
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]


def test_sftp_drop_publishes_from_several_threads_at_once(sftp_server: SftpServer) -> None:
    drop = sftp_server.drop()
    suppliers = ["acme", "beta", "gamma"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        receipts = list(pool.map(lambda s: drop.publish(_delivery("d1", supplier=s)), suppliers))
    assert [r.supplier for r in receipts] == suppliers
    for supplier in suppliers:
        assert _assert_only_complete_deliveries(sftp_server.root / supplier) == ["d1"]


# --- host keys and login ------------------------------------------------------------------


def test_sftp_drop_refuses_a_changed_host_key_and_names_the_offered_fingerprint(
    sftp_server: SftpServer,
) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    delays: list[float] = []
    with pytest.raises(PermanentDeliveryError) as caught:
        sftp_server.drop(host_keys=[other], sleep=delays.append).publish(_delivery())

    message = str(caught.value)
    assert sftp_server.host_key.get_fingerprint("sha256") in message
    assert f"127.0.0.1:{sftp_server.port}" in message
    assert "drop.host_key" in message
    assert sftp_server.state.connections == 1
    assert delays == []
    assert os.listdir(sftp_server.root) == []
    assert sftp_server.state.events == []


def test_sftp_drop_refuses_a_server_without_a_key_of_the_pinned_type_and_names_its_key(
    sftp_server: SftpServer,
) -> None:
    unknown = asyncssh.generate_private_key("ssh-ed448").export_public_key().decode()
    delays: list[float] = []
    with pytest.raises(PermanentDeliveryError, match="is niet de vastgelegde") as caught:
        sftp_server.drop(host_keys=[unknown], sleep=delays.append).publish(_delivery())

    message = str(caught.value)
    offered = [
        key.get_fingerprint("sha256")
        for key in (sftp_server.host_key, sftp_server.ecdsa_host_key)
        if key.get_fingerprint("sha256") in message
    ]
    assert len(offered) == 1
    assert f"127.0.0.1:{sftp_server.port}" in message
    assert "drop.host_key" in message
    assert sftp_server.state.connections == 1
    assert delays == []
    assert os.listdir(sftp_server.root) == []


def test_sftp_drop_asks_for_the_pinned_key_type_of_a_server_with_several(
    sftp_server: SftpServer,
) -> None:
    pinned = sftp_server.ecdsa_host_key.export_public_key().decode()
    sftp_server.drop(host_keys=[pinned]).publish(_delivery())
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]


def test_sftp_drop_accepts_the_server_when_one_of_several_pinned_keys_matches(
    sftp_server: SftpServer,
) -> None:
    old = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    drop = sftp_server.drop(host_keys=[old, f"{sftp_server.host_key_line} sftp.example.nl"])
    drop.publish(_delivery())
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]


def test_sftp_drop_wrong_password_is_permanent_not_retried_and_never_shown(
    sftp_server: SftpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "Fout-WACHTWOORD-9902"
    delays: list[float] = []
    drop = sftp_server.drop(password=SecretStr(wrong), sleep=delays.append)
    with pytest.raises(
        PermanentDeliveryError, match="controleer het wachtwoord of de sleutel"
    ) as caught:
        drop.publish(_delivery())

    assert USER in str(caught.value)
    assert sftp_server.state.connections == 1
    assert delays == []
    assert os.listdir(sftp_server.root) == []
    shown = [repr(drop), str(drop), str(caught.value), repr(caught.value)]
    shown += [record.getMessage() for record in caplog.records]
    shown += [str(arg) for record in caplog.records for arg in (record.args or ())]
    for text in shown:
        assert wrong not in text
        assert PASSWORD not in text
        assert PUPIL not in text


def test_sftp_drop_keeps_the_password_out_of_logs_on_a_good_run(
    sftp_server: SftpServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    drop = sftp_server.drop()
    receipt = drop.publish(_delivery())
    assert PASSWORD not in repr(drop)
    assert PASSWORD not in receipt.location
    assert all(PASSWORD not in record.getMessage() for record in caplog.records)
    # asyncssh's INFO records (hosts, users, paths) stay out of the run logs.
    assert not [r for r in caplog.records if r.name.startswith("asyncssh") and r.levelno < 30]


# --- lost connections and retries ---------------------------------------------------------


def test_sftp_drop_retries_a_refused_connection_with_backoff_then_gives_up() -> None:
    delays: list[float] = []
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    drop = SftpDrop(
        "127.0.0.1",
        USER,
        [key],
        port=_free_port(),
        password=SecretStr(PASSWORD),
        retries=3,
        backoff_seconds=1.0,
        sleep=delays.append,
    )
    with pytest.raises(TransientDeliveryError) as caught:
        drop.publish(_delivery())
    assert delays == [1.0, 2.0, 4.0]
    message = str(caught.value)
    assert "4 poging(en)" in message
    assert "er is niets gepubliceerd" in message
    assert PASSWORD not in message


def test_sftp_drop_retries_a_server_that_never_answers_until_it_times_out() -> None:
    delays: list[float] = []
    key = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        # Accepts TCP connections (the kernel does) but never says a word of SSH.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        drop = SftpDrop(
            "127.0.0.1",
            USER,
            [key],
            port=silent.getsockname()[1],
            password=SecretStr(PASSWORD),
            retries=1,
            backoff_seconds=0.5,
            connect_timeout=0.2,
            sleep=delays.append,
        )
        with pytest.raises(TransientDeliveryError, match="time-out; opgegeven na 2 poging\\(en\\)"):
            drop.publish(_delivery())
    assert delays == [0.5]


@pytest.mark.parametrize("abort_in", [NAMES[0], NAMES[-1], MANIFEST_NAME])
def test_sftp_drop_connection_lost_mid_upload_every_time_shows_only_complete_deliveries(
    sftp_server: SftpServer, abort_in: str
) -> None:
    delays: list[float] = []
    drop = sftp_server.drop(sleep=delays.append, retries=2)
    drop.publish(_delivery("d1"))
    sftp_server.state.abort_in = abort_in
    sftp_server.state.aborts_left = 99

    with pytest.raises(TransientDeliveryError, match="opgegeven na 3 poging\\(en\\)") as caught:
        drop.publish(_delivery("d2"))

    supplier_dir = sftp_server.root / "acme"
    assert _assert_only_complete_deliveries(supplier_dir) == ["d1"]
    assert sftp_server.state.connections == 1 + 3
    assert delays == [1.0, 2.0]
    # The upload really was cut off: a partial file sits in a hidden staging folder, and
    # each new attempt deleted the one before it.
    staging = _hidden(supplier_dir)
    assert len(staging) == 1
    assert staging[0].startswith(".incoming-d2-")
    delivery = _delivery("d2")
    full_size = {f.name: len(f.content) for f in delivery.files}
    full_size[MANIFEST_NAME] = len(manifest_bytes(delivery.manifest))
    assert (supplier_dir / staging[0] / abort_in).stat().st_size < full_size[abort_in]
    assert "er is niets gepubliceerd" in str(caught.value)


@pytest.mark.parametrize("abort_in", [NAMES[0], NAMES[-1], MANIFEST_NAME])
def test_sftp_drop_connection_lost_mid_upload_once_is_retried_and_cleaned_up(
    sftp_server: SftpServer, abort_in: str
) -> None:
    delays: list[float] = []
    drop = sftp_server.drop(sleep=delays.append)
    drop.publish(_delivery("d1"))
    sftp_server.state.abort_in = abort_in
    sftp_server.state.aborts_left = 1

    receipt = drop.publish(_delivery("d2"))

    supplier_dir = sftp_server.root / "acme"
    assert ("abort", abort_in) in sftp_server.state.events
    assert _assert_only_complete_deliveries(supplier_dir) == ["d1", "d2"]
    assert _hidden(supplier_dir) == []
    assert delays == [1.0]
    assert sftp_server.state.connections == 1 + 2
    assert receipt.location.endswith("/acme/d2")


def test_sftp_drop_connection_lost_just_after_the_rename_counts_as_published(
    sftp_server: SftpServer,
) -> None:
    delays: list[float] = []
    drop = sftp_server.drop(sleep=delays.append)
    sftp_server.state.aborts_after_rename = 1

    drop.publish(_delivery("d1"))

    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]
    assert _hidden(sftp_server.root / "acme") == []
    assert delays == [1.0]
    # Publishing another delivery under the same id later is still refused.
    other = _delivery("d1")
    other = dataclasses.replace(other, manifest={**other.manifest, "run_id": "another-run"})
    with pytest.raises(PermanentDeliveryError, match="nooit vervangen"):
        drop.publish(other)


# --- removal ------------------------------------------------------------------------------


def test_sftp_drop_remove_withdraws_a_delivery_and_returns_false_the_second_time(
    sftp_server: SftpServer,
) -> None:
    drop = sftp_server.drop()
    drop.publish(_delivery("d1"))
    drop.publish(_delivery("d2"))
    events_before = len(sftp_server.state.events)

    assert drop.remove("acme", "d1") is True
    assert sorted(os.listdir(sftp_server.root / "acme")) == ["d2"]
    renamed = [name for kind, name in sftp_server.state.events[events_before:] if kind == "rename"]
    assert len(renamed) == 1
    assert renamed[0].startswith(".removing-d1-")
    assert drop.remove("acme", "d1") is False
    assert drop.remove("nobody", "d1") is False


def test_sftp_drop_remove_refused_by_the_server_keeps_the_delivery_without_retry(
    sftp_server: SftpServer,
) -> None:
    delays: list[float] = []
    drop = sftp_server.drop(sleep=delays.append)
    drop.publish(_delivery("d1"))
    sftp_server.state.deny_rename = True

    with pytest.raises(PermanentDeliveryError, match="er is niets verwijderd"):
        drop.remove("acme", "d1")
    assert delays == []
    assert _assert_only_complete_deliveries(sftp_server.root / "acme") == ["d1"]
    assert sftp_server.state.connections == 2


def test_sftp_drop_remove_refuses_a_folder_that_is_not_a_delivery(
    sftp_server: SftpServer,
) -> None:
    (sftp_server.root / "acme" / "handmatig").mkdir(parents=True)
    (sftp_server.root / "acme" / "handmatig" / "notities.txt").write_text("x")
    with pytest.raises(PermanentDeliveryError, match="geen levermap"):
        sftp_server.drop().remove("acme", "handmatig")
    assert (sftp_server.root / "acme" / "handmatig" / "notities.txt").read_text() == "x"


def test_sftp_drop_remove_finishes_an_interrupted_removal(sftp_server: SftpServer) -> None:
    leftover = sftp_server.root / "acme" / ".removing-d1-0123456789abcdef"
    leftover.mkdir(parents=True)
    (leftover / "leerlingen.csv").write_text(PUPIL)
    other = sftp_server.root / "acme" / ".removing-d1-2-0123456789abcdef"
    other.mkdir()

    assert sftp_server.drop().remove("acme", "d1") is True
    assert _hidden(sftp_server.root / "acme") == [other.name]


def test_sftp_drop_remove_checks_ids(sftp_server: SftpServer) -> None:
    with pytest.raises(ConfigurationError, match="niet toegestaan"):
        sftp_server.drop().remove("acme", "../d1")
    assert sftp_server.state.connections == 0


# --- settings -----------------------------------------------------------------------------


def test_sftp_drop_needs_exactly_one_of_password_and_key() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    line = key.export_public_key().decode()
    with pytest.raises(ConfigurationError, match="precies één"):
        SftpDrop("sftp.example.nl", USER, [line])
    with pytest.raises(ConfigurationError, match="precies één"):
        SftpDrop(
            "sftp.example.nl",
            USER,
            [line],
            password=SecretStr(PASSWORD),
            client_key=SecretStr(key.export_private_key().decode()),
        )


def test_sftp_drop_refuses_a_bad_host_key_or_private_key_without_showing_it() -> None:
    line = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    with pytest.raises(
        ConfigurationError, match="hostsleutel 1 is geen regel met een publieke sleutel"
    ):
        SftpDrop("sftp.example.nl", USER, ["ssh-ed25519 niet-base64"], password=PASSWORD)
    with pytest.raises(ConfigurationError, match="geen hostsleutel vastgelegd"):
        SftpDrop("sftp.example.nl", USER, [], password=PASSWORD)
    broken = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{PASSWORD}\n-----END OPENSSH PRIVATE KEY-----\n"
    with pytest.raises(ConfigurationError, match="de privésleutel is onleesbaar") as caught:
        SftpDrop("sftp.example.nl", USER, [line], client_key=SecretStr(broken))
    assert PASSWORD not in str(caught.value)


def test_sftp_drop_repr_shows_where_but_no_secret() -> None:
    line = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    drop = SftpDrop("sftp.example.nl", USER, [line], port=2222, path="/in", password=PASSWORD)
    assert PASSWORD not in repr(drop)
    assert PASSWORD not in str(drop)
    assert "sftp.example.nl" in repr(drop)
    assert drop.url == f"sftp://{USER}@sftp.example.nl:2222/in"


def test_registry_builds_an_sftp_drop_that_can_remove() -> None:
    line = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    drop = get_drop(
        "sftp", host="sftp.example.nl", username=USER, host_keys=[line], password=PASSWORD
    )
    assert isinstance(drop, SftpDrop)
    assert isinstance(drop, RemovableDrop)
    assert "sftp" in known_drops()
    with pytest.raises(ConfigurationError, match="ze neemt:"):
        get_drop("sftp", host="sftp.example.nl", root="/x")
