"""Drops: the manifest and its invariant, atomic folder publishing, the in-memory fake."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.drops.base import (
    MANIFEST_KEYS,
    MANIFEST_NAME,
    REASON_CODES,
    Delivery,
    Drop,
    Receipt,
    build_manifest,
    manifest_bytes,
)
from connectors.drops.folder import FolderDrop
from connectors.drops.memory import MemoryDrop
from connectors.drops.registry import RemovableDrop, get_drop, known_drops
from connectors.drops.staged import run_unsuspended
from connectors.errors import (
    ConfigurationError,
    PermanentDeliveryError,
    PolicyError,
    TransientDeliveryError,
)
from connectors.formats.base import DataFile

SECRET = "Zoë-GEHEIM-7781"

COUNTS: dict[str, Any] = {
    "input": 10,
    "delivered": 6,
    "withheld": {"no_consent": 2, "left_school": 1},
    "quarantined": 1,
}


def _files(*names: str) -> tuple[DataFile, ...]:
    return tuple(
        DataFile(name=name, content=f"roepnaam\n{SECRET}-{name}\n".encode(), rows=1)
        for name in names
    )


def _manifest(files: tuple[DataFile, ...], **overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "supplier": "acme",
        "run_id": "run-42",
        "school": "99XX00",
        "created_at": "2026-03-01T02:00:00+01:00",
        "mode": "full",
        "files": files,
        "fields": ["leerlingkey", "roepnaam"],
        "counts": COUNTS,
    }
    arguments.update(overrides)
    return build_manifest(**arguments)


def _delivery(
    delivery_id: str = "d1",
    names: tuple[str, ...] = ("leerlingen.csv", "groepen.csv", "leerkrachten.csv"),
) -> Delivery:
    files = _files(*names)
    manifest = _manifest(files)
    return Delivery(supplier="acme", delivery_id=delivery_id, files=files, manifest=manifest)


def _snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file below `folder` with its bytes and mode, to prove nothing changed."""
    return {
        str(path.relative_to(folder)): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _stored(drop: Drop, root: Path, supplier: str) -> dict[str, dict[str, bytes]]:
    """What a supplier can see: complete deliveries by id, each as file name to bytes."""
    if isinstance(drop, MemoryDrop):
        return {
            delivery_id: dict(files)
            for (owner, delivery_id), files in drop.deliveries.items()
            if owner == supplier
        }
    supplier_dir = root / supplier
    if not supplier_dir.exists():
        return {}
    return {
        entry.name: {path.name: path.read_bytes() for path in entry.iterdir()}
        for entry in sorted(supplier_dir.iterdir())
    }


@pytest.fixture
def drop_root(tmp_path: Path) -> Path:
    root = tmp_path / "drop"
    root.mkdir()
    return root


@pytest.fixture(params=["folder", "memory"])
def drop(request: pytest.FixtureRequest, drop_root: Path) -> Drop:
    if request.param == "folder":
        return FolderDrop(drop_root)
    return MemoryDrop()


# --- manifest -----------------------------------------------------------------------------


def test_manifest_has_the_documented_keys_and_values() -> None:
    files = _files("leerlingen.csv")
    manifest = _manifest(files)
    assert set(manifest) == set(MANIFEST_KEYS)
    assert manifest == {
        "supplier": "acme",
        "run_id": "run-42",
        "school": "99XX00",
        "created_at": "2026-03-01T02:00:00+01:00",
        "mode": "full",
        "files": [{"name": "leerlingen.csv", "sha256": files[0].sha256, "rows": 1}],
        "fields": ["leerlingkey", "roepnaam"],
        "counts": {
            "input": 10,
            "delivered": 6,
            "withheld": {"no_consent": 2, "left_school": 1},
            "quarantined": 1,
        },
    }


def test_manifest_takes_extra_keys_but_not_ones_that_replace_required_keys() -> None:
    files = _files("a.csv")
    manifest = _manifest(files, extra={"agreement_version": "2026-01"})
    assert manifest["agreement_version"] == "2026-01"
    with pytest.raises(PolicyError, match="mogen verplichte sleutels niet vervangen: counts"):
        _manifest(files, extra={"counts": {"input": 0}})


@pytest.mark.parametrize(
    "counts",
    [
        {"input": 11, "delivered": 6, "withheld": {"no_consent": 3}, "quarantined": 1},
        {"input": 9, "delivered": 6, "withheld": {"no_consent": 3}, "quarantined": 1},
        {"input": 10, "delivered": 10, "withheld": {}, "quarantined": 1},
        {"input": 0, "delivered": 1, "withheld": {}, "quarantined": 0},
    ],
)
def test_manifest_refuses_counts_that_do_not_add_up(counts: dict[str, Any]) -> None:
    with pytest.raises(PolicyError, match="kloppen niet"):
        _manifest(_files("a.csv"), counts=counts)


@given(
    delivered=st.integers(0, 500),
    withheld=st.dictionaries(st.sampled_from(REASON_CODES), st.integers(0, 500)),
    quarantined=st.integers(0, 500),
    surplus=st.integers(-50, 50),
)
def test_manifest_is_built_exactly_when_input_is_delivered_plus_withheld_plus_quarantined(
    delivered: int, withheld: dict[str, int], quarantined: int, surplus: int
) -> None:
    total = delivered + sum(withheld.values()) + quarantined
    counts = {
        "input": total + surplus,
        "delivered": delivered,
        "withheld": withheld,
        "quarantined": quarantined,
    }
    if surplus == 0:
        assert _manifest((), counts=counts)["counts"]["input"] == total
    else:
        with pytest.raises(PolicyError):
            _manifest((), counts=counts)


@pytest.mark.parametrize(
    ("counts", "message"),
    [
        ({"input": 1, "delivered": 1, "withheld": {}}, "missen quarantined"),
        ({"input": 1, "delivered": 0, "withheld": {"geen_zin": 1}, "quarantined": 0}, "geen_zin"),
        ({"input": -1, "delivered": -1, "withheld": {}, "quarantined": 0}, "minstens 0"),
        ({"input": 1, "delivered": True, "withheld": {}, "quarantined": 0}, "delivered"),
        ({"input": 1.0, "delivered": 1, "withheld": {}, "quarantined": 0}, "input"),
        ({"input": 1, "delivered": 0, "withheld": [1], "quarantined": 0}, "redencodes"),
    ],
)
def test_manifest_refuses_malformed_counts(counts: dict[str, Any], message: str) -> None:
    with pytest.raises(PolicyError, match=message):
        _manifest(_files("a.csv"), counts=counts)


def test_manifest_lists_the_known_reason_codes_for_an_unknown_one() -> None:
    counts = {"input": 1, "delivered": 0, "withheld": {"geen_zin": 1}, "quarantined": 0}
    with pytest.raises(PolicyError) as caught:
        _manifest((), counts=counts)
    for code in REASON_CODES:
        assert code in str(caught.value)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"mode": "incremental"}, ConfigurationError),
        ({"created_at": "gisteren"}, PolicyError),
        ({"supplier": "../acme"}, ConfigurationError),
        ({"fields": ["roepnaam", "roepnaam"]}, PolicyError),
    ],
)
def test_manifest_refuses_bad_header_values(
    overrides: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        _manifest(_files("a.csv"), **overrides)


def test_manifest_bytes_are_sorted_indented_utf8_json_with_a_trailing_newline() -> None:
    manifest = _manifest(_files("a.csv"), extra={"school_name": "De Zoëklip"})
    content = manifest_bytes(manifest)
    assert content.endswith(b"}\n")
    assert "De Zoëklip".encode() in content
    assert json.loads(content) == manifest
    assert content == (
        json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
    ).encode("utf-8")
    assert content.startswith(b'{\n  "counts": {\n')


def test_manifest_bytes_refuse_what_json_cannot_hold() -> None:
    with pytest.raises(PolicyError, match="JSON"):
        manifest_bytes({"created_at": object()})


# --- every drop (conformance) ---------------------------------------------------------------


def test_drop_publishes_files_and_manifest_and_returns_a_receipt(
    drop: Drop, drop_root: Path
) -> None:
    delivery = _delivery()
    receipt = drop.publish(delivery)

    stored = _stored(drop, drop_root, "acme")
    assert list(stored) == ["d1"]
    assert set(stored["d1"]) == {"leerlingen.csv", "groepen.csv", "leerkrachten.csv", MANIFEST_NAME}
    for data_file in delivery.files:
        assert stored["d1"][data_file.name] == data_file.content
    assert stored["d1"][MANIFEST_NAME] == manifest_bytes(delivery.manifest)

    assert isinstance(receipt, Receipt)
    assert (receipt.supplier, receipt.delivery_id) == ("acme", "d1")
    assert [(f.name, f.sha256, f.rows) for f in receipt.files] == [
        (f.name, f.sha256, f.rows) for f in delivery.files
    ]
    assert receipt.manifest_sha256 == hashlib.sha256(stored["d1"][MANIFEST_NAME]).hexdigest()
    assert SECRET not in receipt.location


def test_drop_never_replaces_a_published_delivery(drop: Drop, drop_root: Path) -> None:
    drop.publish(_delivery("d1"))
    before = _stored(drop, drop_root, "acme")
    with pytest.raises(PermanentDeliveryError, match="bestaat al"):
        drop.publish(_delivery("d1", names=("anders.csv",)))
    assert _stored(drop, drop_root, "acme") == before


@pytest.mark.parametrize(
    "bad_id",
    ["../etc", "..", ".", "a/b", "a\\b", "/abs", ".hidden", "", "Acme", "acme\n", "a b", "x" * 201],
)
@pytest.mark.parametrize("which", ["supplier", "delivery_id"])
def test_drop_refuses_ids_that_could_escape_or_hide_and_writes_nothing(
    drop: Drop, drop_root: Path, tmp_path: Path, bad_id: str, which: str
) -> None:
    files = _files("a.csv")
    supplier = bad_id if which == "supplier" else "acme"
    delivery_id = bad_id if which == "delivery_id" else "d1"
    manifest = {**_manifest(files), "supplier": supplier}
    delivery = Delivery(supplier=supplier, delivery_id=delivery_id, files=files, manifest=manifest)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ConfigurationError, match="niet toegestaan"):
        drop.publish(delivery)
    assert sorted(tmp_path.rglob("*")) == before
    if isinstance(drop, MemoryDrop):
        assert drop.deliveries == {}


@pytest.mark.parametrize("names", [("manifest.json",), ("MANIFEST.JSON",), ("a.csv", "A.csv")])
def test_drop_refuses_a_file_named_like_the_manifest_or_another_file(
    drop: Drop, drop_root: Path, names: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError):
        drop.publish(_delivery(names=names))
    assert _stored(drop, drop_root, "acme") == {}


def test_drop_refuses_a_manifest_that_does_not_list_the_files_it_ships(
    drop: Drop, drop_root: Path
) -> None:
    good = _delivery()
    tampered = DataFile(name=good.files[0].name, content=b"iets anders\n", rows=1)
    delivery = Delivery("acme", "d1", (tampered, *good.files[1:]), good.manifest)
    with pytest.raises(PolicyError, match="noemt niet precies de bestanden"):
        drop.publish(delivery)
    assert _stored(drop, drop_root, "acme") == {}


def test_drop_refuses_a_manifest_for_another_supplier(drop: Drop, drop_root: Path) -> None:
    good = _delivery()
    delivery = Delivery("other", "d1", good.files, good.manifest)
    with pytest.raises(PolicyError, match="'acme', niet voor 'other'"):
        drop.publish(delivery)
    assert _stored(drop, drop_root, "other") == {}


def test_drop_refuses_a_manifest_whose_counts_do_not_add_up(drop: Drop, drop_root: Path) -> None:
    good = _delivery()
    manifest = {**good.manifest, "counts": {**COUNTS, "input": 99}}
    with pytest.raises(PolicyError, match="kloppen niet"):
        drop.publish(Delivery("acme", "d1", good.files, manifest))
    assert _stored(drop, drop_root, "acme") == {}


def test_drop_can_remove_a_delivery_and_says_so_only_once(drop: Drop, drop_root: Path) -> None:
    assert isinstance(drop, RemovableDrop)
    drop.publish(_delivery("d1"))
    drop.publish(_delivery("d2"))

    assert drop.remove("acme", "d1") is True
    assert list(_stored(drop, drop_root, "acme")) == ["d2"]
    assert drop.remove("acme", "d1") is False
    assert drop.remove("other", "d1") is False
    assert list(_stored(drop, drop_root, "acme")) == ["d2"]


@pytest.mark.parametrize("bad_id", ["../d1", "..", ".removing-d1", "a/b", "D1", ""])
@pytest.mark.parametrize("which", ["supplier", "delivery_id"])
def test_drop_remove_refuses_ids_that_could_escape_or_hide(
    drop: Drop, drop_root: Path, bad_id: str, which: str
) -> None:
    assert isinstance(drop, RemovableDrop)
    drop.publish(_delivery("d1"))
    supplier = bad_id if which == "supplier" else "acme"
    delivery_id = bad_id if which == "delivery_id" else "d1"
    with pytest.raises(ConfigurationError, match="niet toegestaan"):
        drop.remove(supplier, delivery_id)
    assert list(_stored(drop, drop_root, "acme")) == ["d1"]


# --- folder drop --------------------------------------------------------------------------


def test_folder_drop_lays_out_root_supplier_delivery_with_the_manifest(drop_root: Path) -> None:
    delivery = _delivery("2026-03-01.run-42")
    receipt = FolderDrop(drop_root).publish(delivery)

    folder = drop_root / "acme" / "2026-03-01.run-42"
    assert receipt.location == str(folder)
    assert sorted(path.name for path in folder.iterdir()) == sorted(
        [*(f.name for f in delivery.files), MANIFEST_NAME]
    )
    manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert manifest == delivery.manifest
    assert manifest["counts"]["input"] == (
        manifest["counts"]["delivered"]
        + sum(manifest["counts"]["withheld"].values())
        + manifest["counts"]["quarantined"]
    )
    assert sorted(os.listdir(drop_root / "acme")) == ["2026-03-01.run-42"]


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o000, 0o077])
def test_folder_drop_makes_files_0640_and_folders_0750_whatever_the_umask(
    drop_root: Path, umask: int
) -> None:
    previous = os.umask(umask)
    try:
        FolderDrop(drop_root).publish(_delivery())
    finally:
        os.umask(previous)
    supplier_dir = drop_root / "acme"
    assert stat.S_IMODE(supplier_dir.stat().st_mode) == 0o750
    assert stat.S_IMODE((supplier_dir / "d1").stat().st_mode) == 0o750
    modes = {
        path.name: stat.S_IMODE(path.stat().st_mode) for path in (supplier_dir / "d1").iterdir()
    }
    assert set(modes.values()) == {0o640}
    assert MANIFEST_NAME in modes


def test_a_private_folder_drop_makes_files_0600_and_folders_0700_whatever_the_umask(
    tmp_path: Path,
) -> None:
    # Sluis' own copies in its state (archive, held): only the owner reads them.
    previous = os.umask(0o022)
    try:
        FolderDrop(tmp_path / "state" / "archive", create_root=True, private=True).publish(
            _delivery()
        )
    finally:
        os.umask(previous)
    paths = [tmp_path / "state", *sorted((tmp_path / "state").rglob("*"))]
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in paths}
    assert {modes[p] for p in paths if p.is_dir()} == {0o700}
    assert {modes[p] for p in paths if p.is_file()} == {0o600}
    assert len(paths) > 4


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Record file creations, fsyncs and renames in the order they happen."""
    events: list[tuple[str, str]] = []
    names: dict[int, str] = {}
    real_open, real_fsync, real_rename = os.open, os.fsync, os.rename

    def recording_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        fd = real_open(path, flags, mode, **kwargs)
        names[fd] = Path(path).name
        if flags & os.O_CREAT:
            events.append(("create", Path(path).name))
        return fd

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)
        events.append(("fsync", names.get(fd, "?")))

    def recording_rename(source: Any, target: Any, **kwargs: Any) -> None:
        real_rename(source, target, **kwargs)
        events.append(("rename", Path(target).name))

    monkeypatch.setattr(os, "open", recording_open)
    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "rename", recording_rename)
    return events


def test_folder_drop_writes_and_syncs_every_data_file_before_the_manifest(
    drop_root: Path, recorded: list[tuple[str, str]]
) -> None:
    delivery = _delivery("d1")
    FolderDrop(drop_root).publish(delivery)

    created = [name for kind, name in recorded if kind == "create"]
    assert created == [*(f.name for f in delivery.files), MANIFEST_NAME]
    manifest_created = recorded.index(("create", MANIFEST_NAME))
    for data_file in delivery.files:
        assert recorded.index(("fsync", data_file.name)) < manifest_created
    renamed = recorded.index(("rename", "d1"))
    assert recorded.index(("fsync", MANIFEST_NAME)) < renamed
    staging_syncs = [
        i
        for i, (kind, name) in enumerate(recorded)
        if kind == "fsync" and name.startswith(".incoming-d1-")
    ]
    assert staging_syncs
    assert staging_syncs[0] < renamed


def _syncs(recorded: list[tuple[str, str]]) -> list[str]:
    return [name for kind, name in recorded if kind == "fsync"]


@pytest.mark.parametrize("count", [1, 5])
def test_folder_drop_syncs_each_file_once_and_each_folder_once_per_delivery(
    drop_root: Path, recorded: list[tuple[str, str]], count: int
) -> None:
    # Issue 12: every data file and the manifest once, the staging folder once before the
    # rename and the supplier's folder once after it; the drop root holds nothing new.
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    del recorded[:]
    names = tuple(f"bestand-{number}.csv" for number in range(count))
    drop.publish(_delivery("d2", names))

    syncs = _syncs(recorded)
    staging = [name for name in syncs if name.startswith(".incoming-d2-")]
    assert len(staging) == 1
    assert sorted(syncs) == sorted([*names, MANIFEST_NAME, *staging, "acme"])
    assert len(syncs) == count + 3
    renamed = recorded.index(("rename", "d2"))
    assert recorded.index(("fsync", staging[0])) < renamed < recorded.index(("fsync", "acme"))


def test_folder_drop_syncs_the_root_once_after_making_the_supplier_folder(
    drop_root: Path, recorded: list[tuple[str, str]]
) -> None:
    FolderDrop(drop_root).publish(_delivery("d1"))

    syncs = _syncs(recorded)
    assert syncs.count("drop") == 1
    assert len(syncs) == len(_delivery().files) + 4
    assert recorded.index(("rename", "d1")) < recorded.index(("fsync", "drop"))


def test_folder_drop_syncs_the_root_once_for_a_supplier_folder_it_did_not_make(
    drop_root: Path, recorded: list[tuple[str, str]]
) -> None:
    # The folder may come from a process killed before it synced the root: a drop built
    # afterwards (a new run) makes it durable once, with its first delivery there.
    FolderDrop(drop_root).publish(_delivery("d1"))
    del recorded[:]
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d2"))
    drop.publish(_delivery("d3"))
    assert _syncs(recorded).count("drop") == 1


def test_folder_drop_syncs_the_root_again_for_a_supplier_folder_made_again(
    drop_root: Path, recorded: list[tuple[str, str]]
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    shutil.rmtree(drop_root / "acme")
    del recorded[:]
    drop.publish(_delivery("d2"))
    assert _syncs(recorded).count("drop") == 1


def test_run_unsuspended_returns_what_a_coroutine_that_never_waits_returns() -> None:
    async def never_waits() -> str:
        return "klaar"

    assert run_unsuspended(never_waits()) == "klaar"


def test_run_unsuspended_refuses_a_coroutine_that_waits_and_closes_it() -> None:
    async def waits() -> None:
        await asyncio.sleep(0)

    coroutine = waits()
    with pytest.raises(RuntimeError, match="waited"):
        run_unsuspended(coroutine)
    assert coroutine.cr_frame is None


def test_folder_drop_shows_a_supplier_only_complete_deliveries_while_publishing(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FolderDrop(drop_root).publish(_delivery("d1"))
    events: list[tuple[str, str]] = []
    real_open = os.open

    def recording_open(path: Any, flags: int, mode: int = 0o777, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            entries = sorted(os.listdir(drop_root / "acme"))
            visible = [entry for entry in entries if not entry.startswith(".")]
            staging = [entry for entry in entries if entry.startswith(".incoming-d2-")]
            events.append((",".join(visible), ",".join(staging)))
        return real_open(path, flags, mode, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    FolderDrop(drop_root).publish(_delivery("d2"))
    monkeypatch.undo()

    assert len(events) == 4
    assert all(visible == "d1" and staging for visible, staging in events)
    assert sorted(os.listdir(drop_root / "acme")) == ["d1", "d2"]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (errno.ENOSPC, TransientDeliveryError),
        (errno.EIO, TransientDeliveryError),
        (errno.EAGAIN, TransientDeliveryError),
        (errno.EACCES, PermanentDeliveryError),
        (errno.EPERM, PermanentDeliveryError),
        (errno.ENOTDIR, PermanentDeliveryError),
        (errno.EROFS, PermanentDeliveryError),
    ],
)
def test_folder_drop_failing_on_the_second_file_leaves_no_trace_and_keeps_the_previous_delivery(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch, code: int, error: type[Exception]
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    before = _snapshot(drop_root)

    real_fsync = os.fsync
    calls = 0

    def failing_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(code, os.strerror(code))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(error) as caught:
        drop.publish(_delivery("d2"))
    monkeypatch.undo()

    assert calls == 2
    assert sorted(os.listdir(drop_root / "acme")) == ["d1"]
    assert _snapshot(drop_root) == before
    message = str(caught.value)
    assert "'acme'" in message
    assert str(drop_root / "acme") in message
    assert SECRET not in message
    assert SECRET not in str(caught.value.__cause__)


def _fail(*args: Any, **kwargs: Any) -> Any:
    raise OSError(errno.EIO, os.strerror(errno.EIO))


def _fail_on_create(real: Callable[..., int]) -> Callable[..., int]:
    # Only file creation fails: cleanup itself opens folders and must keep working.
    def open_(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if flags & os.O_CREAT:
            _fail()
        return real(path, flags, *args, **kwargs)

    return open_


@pytest.mark.parametrize(
    ("target", "replacement"),
    [
        ("os.open", _fail_on_create(os.open)),
        ("os.fchmod", _fail),
        ("os.rename", _fail),
        ("os.mkdir", _fail),
    ],
    ids=["open", "fchmod", "rename", "mkdir"],
)
def test_folder_drop_failing_at_any_step_leaves_no_trace(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch, target: str, replacement: Callable[..., Any]
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    before = _snapshot(drop_root)

    monkeypatch.setattr(target, replacement)
    with pytest.raises(TransientDeliveryError):
        drop.publish(_delivery("d2"))
    monkeypatch.undo()

    assert sorted(os.listdir(drop_root / "acme")) == ["d1"]
    assert _snapshot(drop_root) == before


def test_folder_drop_cleans_up_on_an_interrupt_too(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        FolderDrop(drop_root).publish(_delivery("d1"))
    monkeypatch.undo()
    assert os.listdir(drop_root / "acme") == []


def test_folder_drop_a_retry_after_a_transient_failure_publishes_normally(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = FolderDrop(drop_root)

    def full_disk(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(TransientDeliveryError):
        drop.publish(_delivery("d1"))
    monkeypatch.undo()

    drop.publish(_delivery("d1"))
    assert sorted(os.listdir(drop_root / "acme")) == ["d1"]


def test_folder_drop_refuses_a_missing_root_instead_of_creating_it(tmp_path: Path) -> None:
    root = tmp_path / "niet-gemount"
    with pytest.raises(PermanentDeliveryError, match="bestaat niet"):
        FolderDrop(root).publish(_delivery())
    assert not root.exists()


def test_folder_drop_creates_a_missing_root_when_asked(tmp_path: Path) -> None:
    root = tmp_path / "nieuw" / "drop"
    FolderDrop(root, create_root=True).publish(_delivery())
    assert (root / "acme" / "d1" / MANIFEST_NAME).is_file()


def test_folder_drop_refuses_a_root_that_is_a_file(tmp_path: Path) -> None:
    root = tmp_path / "drop"
    root.write_text("geen map")
    with pytest.raises(PermanentDeliveryError):
        FolderDrop(root).publish(_delivery())


def test_folder_drop_refuses_a_supplier_path_that_is_a_file(drop_root: Path) -> None:
    (drop_root / "acme").write_text("geen map")
    with pytest.raises(PermanentDeliveryError, match="'acme'"):
        FolderDrop(drop_root).publish(_delivery())
    assert (drop_root / "acme").read_text() == "geen map"


def test_folder_drop_refuses_when_the_final_folder_appears_during_publishing(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_rename = os.rename

    def racing_rename(source: Any, target: Any, **kwargs: Any) -> None:
        Path(target).mkdir()
        (Path(target) / "van-een-ander").write_text("x")
        real_rename(source, target, **kwargs)

    monkeypatch.setattr(os, "rename", racing_rename)
    with pytest.raises(PermanentDeliveryError, match="bestaat al"):
        FolderDrop(drop_root).publish(_delivery("d1"))
    monkeypatch.undo()
    assert sorted(os.listdir(drop_root / "acme")) == ["d1"]
    assert os.listdir(drop_root / "acme" / "d1") == ["van-een-ander"]


def test_folder_drop_remove_withdraws_by_renaming_before_deleting_anything(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    drop.publish(_delivery("d2"))
    before = _snapshot(drop_root / "acme" / "d2")
    events: list[tuple[str, str]] = []
    real_rename, real_unlink = os.rename, os.unlink

    def recording_rename(source: Any, target: Any, **kwargs: Any) -> None:
        real_rename(source, target, **kwargs)
        events.append(("rename", Path(target).name))

    def recording_unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        # The delivery's files must be out of the supplier's sight before they go.
        events.append(("unlink", ",".join(sorted(os.listdir(drop_root / "acme")))))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "rename", recording_rename)
    monkeypatch.setattr(os, "unlink", recording_unlink)
    assert drop.remove("acme", "d1") is True
    monkeypatch.undo()

    assert events[0][0] == "rename"
    assert events[0][1].startswith(".removing-d1-")
    unlinks = [listing for kind, listing in events if kind == "unlink"]
    assert len(unlinks) == 4
    assert all("d1" not in listing.split(",") for listing in unlinks)
    assert sorted(os.listdir(drop_root / "acme")) == ["d2"]
    assert _snapshot(drop_root / "acme" / "d2") == before


def test_folder_drop_remove_refuses_what_is_not_a_delivery_folder(drop_root: Path) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    supplier_dir = drop_root / "acme"
    (supplier_dir / "handmatig").mkdir()
    (supplier_dir / "handmatig" / "notities.txt").write_text("x")
    (supplier_dir / "los-bestand").write_text("x")
    (supplier_dir / "link").symlink_to(supplier_dir / "d1")
    (supplier_dir / "nep").mkdir()
    (supplier_dir / "nep" / MANIFEST_NAME).symlink_to(supplier_dir / "d1" / MANIFEST_NAME)
    before = _snapshot(drop_root)

    for name in ("handmatig", "los-bestand", "link", "nep"):
        with pytest.raises(PermanentDeliveryError, match="geen levermap"):
            drop.remove("acme", name)
    assert _snapshot(drop_root) == before
    assert (supplier_dir / "link").is_symlink()


def test_folder_drop_remove_refuses_a_missing_root_instead_of_saying_it_is_gone(
    tmp_path: Path,
) -> None:
    with pytest.raises(PermanentDeliveryError, match="bestaat niet"):
        FolderDrop(tmp_path / "niet-gemount").remove("acme", "d1")


def test_folder_drop_remove_from_a_root_it_would_create_that_is_missing_finds_nothing(
    tmp_path: Path,
) -> None:
    assert FolderDrop(tmp_path / "held", create_root=True).remove("acme", "d1") is False
    assert not (tmp_path / "held").exists()


def test_folder_drop_remove_interrupted_while_deleting_hides_it_and_a_second_call_finishes(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    drop.publish(_delivery("d1-2"))
    other_leftover = drop_root / "acme" / ".removing-d1-2-0123456789abcdef"
    other_leftover.mkdir()
    real_unlink = os.unlink
    calls = 0

    def failing_unlink(path: Any, *args: Any, **kwargs: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_unlink(path, *args, **kwargs)

    monkeypatch.setattr(os, "unlink", failing_unlink)
    with pytest.raises(TransientDeliveryError, match="roep remove opnieuw aan") as caught:
        drop.remove("acme", "d1")
    monkeypatch.undo()

    assert SECRET not in str(caught.value)
    entries = sorted(os.listdir(drop_root / "acme"))
    assert [entry for entry in entries if not entry.startswith(".")] == ["d1-2"]
    assert len([entry for entry in entries if entry.startswith(".removing-d1-")]) == 2
    # The leftovers of "d1" are cleaned up; those of "d1-2" are not touched.
    assert drop.remove("acme", "d1") is True
    assert sorted(os.listdir(drop_root / "acme")) == [other_leftover.name, "d1-2"]
    assert drop.remove("acme", "d1") is False


@pytest.mark.parametrize(
    ("code", "error"),
    [(errno.EBUSY, TransientDeliveryError), (errno.EACCES, PermanentDeliveryError)],
)
def test_folder_drop_remove_failing_to_withdraw_keeps_the_delivery(
    drop_root: Path, monkeypatch: pytest.MonkeyPatch, code: int, error: type[Exception]
) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    before = _snapshot(drop_root)

    def failing_rename(*args: Any, **kwargs: Any) -> None:
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "rename", failing_rename)
    with pytest.raises(error, match="er is niets verwijderd"):
        drop.remove("acme", "d1")
    monkeypatch.undo()
    assert _snapshot(drop_root) == before


# --- memory drop --------------------------------------------------------------------------


def test_memory_drop_fail_on_write_keeps_nothing_and_a_retry_succeeds() -> None:
    drop = MemoryDrop(fail_on_write=True)
    with pytest.raises(TransientDeliveryError, match="'acme'"):
        drop.publish(_delivery())
    assert drop.deliveries == {}

    drop.fail_on_write = False
    drop.publish(_delivery())
    assert list(drop.deliveries) == [("acme", "d1")]
    assert drop.attempts == 2
    assert drop.manifest("acme", "d1") == _delivery().manifest


@pytest.mark.parametrize("fail_after_files", [0, 1, 2, 3])
def test_memory_drop_failing_after_some_files_keeps_nothing_of_that_delivery(
    fail_after_files: int,
) -> None:
    drop = MemoryDrop()
    drop.publish(_delivery("d1"))
    before = {key: dict(files) for key, files in drop.deliveries.items()}

    drop.fail_after_files = fail_after_files
    with pytest.raises(TransientDeliveryError) as caught:
        drop.publish(_delivery("d2"))
    assert drop.deliveries == before
    assert SECRET not in str(caught.value)


def test_memory_drop_fail_after_more_files_than_it_writes_does_not_fail() -> None:
    drop = MemoryDrop(fail_after_files=4)
    drop.publish(_delivery())
    assert set(drop.deliveries[("acme", "d1")]) == {
        "leerlingen.csv",
        "groepen.csv",
        "leerkrachten.csv",
        MANIFEST_NAME,
    }


def test_memory_drop_remove_with_fail_on_write_keeps_the_delivery() -> None:
    drop = MemoryDrop()
    drop.publish(_delivery())
    drop.fail_on_write = True
    with pytest.raises(TransientDeliveryError, match="er is niets verwijderd"):
        drop.remove("acme", "d1")
    assert list(drop.deliveries) == [("acme", "d1")]
    drop.fail_on_write = False
    assert drop.remove("acme", "d1") is True
    assert drop.deliveries == {}


# --- registry -------------------------------------------------------------------------------


def test_registry_builds_folder_and_memory_drops(drop_root: Path) -> None:
    folder = get_drop("folder", root=drop_root)
    assert isinstance(folder, FolderDrop)
    assert folder.root == drop_root
    assert isinstance(get_drop("memory", fail_on_write=True), MemoryDrop)
    assert known_drops() == ("folder", "memory", "sftp")


def test_registry_names_the_known_kinds_for_an_unknown_one() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^onbekend soort levermap 'ftp'; bekende soorten: folder, memory, sftp$",
    ):
        get_drop("ftp", host="example.test")


@pytest.mark.parametrize(
    ("kind", "kwargs"),
    [("folder", {}), ("folder", {"root": "x", "path": "y"}), ("memory", {"x": 1})],
)
def test_registry_refuses_settings_a_drop_does_not_take(kind: str, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="ze neemt:"):
        get_drop(kind, **kwargs)


def test_memory_drop_receipt_points_at_the_supplier_and_delivery() -> None:
    assert MemoryDrop().publish(_delivery()).location == "memory://acme/d1"


def test_folder_drop_publishing_the_identical_delivery_again_is_done_not_an_error(
    drop_root: Path,
) -> None:
    # A retry after a publish whose success was never seen must not fail for good.
    drop = FolderDrop(drop_root)
    first = drop.publish(_delivery("d1"))
    again = drop.publish(_delivery("d1"))
    assert again == first
    assert sorted(os.listdir(drop_root / "acme")) == ["d1"]


def test_folder_drop_a_tampered_copy_is_not_the_same_delivery(drop_root: Path) -> None:
    drop = FolderDrop(drop_root)
    drop.publish(_delivery("d1"))
    data = next(p for p in (drop_root / "acme" / "d1").iterdir() if p.name != MANIFEST_NAME)
    data.chmod(0o640)
    data.write_bytes(b"changed")
    with pytest.raises(PermanentDeliveryError, match="bestaat al"):
        drop.publish(_delivery("d1"))
