"""`sluis run --task-runner dask`: the same deliveries as the default runner, on Dask.

Two real runs of the CLI on the samples, one on the default thread runner and one on a
LocalCluster of 2 worker processes, with the same keys. Every data file and every manifest
field must be the same, except the run's id and its time (`created_at`, which EDEXML's
aanmaakdatum and OneRoster's dateLastModified carry too).
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import sys
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sluis_cli import run_args, sluis

from connectors.errors import ConfigurationError
from pipelines.runners import DASK_SCRATCH, task_runner_for
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]

# A manifest's own id, run and time; everything else must agree.
PER_RUN = {"run_id", "created_at", "delivery_id"}


def test_threads_stay_the_default(tmp_path: Path) -> None:
    from prefect.task_runners import ThreadPoolTaskRunner

    runner = task_runner_for(Settings(state_dir=tmp_path))
    assert isinstance(runner, ThreadPoolTaskRunner)
    assert not (tmp_path / DASK_SCRATCH).exists()


def test_a_local_cluster_has_worker_processes_no_dashboard_and_spills_into_the_state(
    tmp_path: Path,
) -> None:
    from prefect_dask.task_runners import DaskTaskRunner

    runner = task_runner_for(Settings(state_dir=tmp_path, task_runner="dask", dask_workers=3))
    assert isinstance(runner, DaskTaskRunner)
    assert runner.cluster_kwargs["n_workers"] == 3
    assert runner.cluster_kwargs["processes"] is True
    assert runner.cluster_kwargs["dashboard_address"] is None
    scratch = tmp_path / DASK_SCRATCH
    assert runner.cluster_kwargs["local_directory"] == str(scratch)
    assert scratch.is_dir() and (scratch.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize("address", ["tls://10.0.0.5:8786", "tcp://127.0.0.1:8786"])
def test_an_address_uses_that_cluster(tmp_path: Path, address: str) -> None:
    runner = task_runner_for(Settings(state_dir=tmp_path, task_runner="dask", dask_address=address))
    assert runner.address == address  # type: ignore[attr-defined]


@pytest.mark.parametrize("address", ["tcp://10.0.0.5:8786", "10.0.0.5:8786", "ws://a:1"])
def test_pupil_data_goes_to_another_machine_only_over_tls(tmp_path: Path, address: str) -> None:
    settings = Settings(state_dir=tmp_path, task_runner="dask", dask_address=address)
    with pytest.raises(ConfigurationError, match="tls://") as caught:
        task_runner_for(settings)
    assert "10.0.0.5" not in str(caught.value)  # the setting is named, not echoed


def test_dask_without_prefect_dask_is_one_line_with_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "prefect_dask.task_runners", None)
    with pytest.raises(ConfigurationError, match=r"pip install -e '\.\[dask\]'"):
        task_runner_for(Settings(state_dir=tmp_path, task_runner="dask"))


def _without_run(content: bytes, created: datetime) -> bytes:
    """The content with this run's time in every spelling the formats use, made neutral."""
    for spelling in (
        created.isoformat(),
        created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    ):
        content = content.replace(spelling.encode(), b"<created_at>")
    return content


def _deliveries(drop: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (supplier, school): the manifest without per-run fields, and each file's content."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for manifest_path in sorted(drop.glob("*/*/manifest.json")):
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        created = datetime.fromisoformat(manifest["created_at"])
        files: dict[str, Any] = {}
        for path in sorted(manifest_path.parent.iterdir()):
            if path.name == "manifest.json":
                continue
            content = path.read_bytes()
            if zipfile.is_zipfile(path):
                # Entries, not the zip's bytes: each entry header carries the write time.
                with zipfile.ZipFile(io.BytesIO(content)) as package:
                    files[path.name] = {
                        info.filename: _without_run(package.read(info), created)
                        for info in package.infolist()
                    }
            else:
                files[path.name] = _without_run(content, created)
        same = {k: v for k, v in manifest.items() if k not in PER_RUN and k != "files"}
        # A file's hash covers its time stamps; its name and rows must still agree.
        same["files"] = [(f["name"], f["rows"]) for f in manifest["files"]]
        found[(manifest["supplier"], manifest["school"])] = {"manifest": same, "files": files}
    return found


@pytest.mark.prefect
def test_dask_with_two_worker_processes_delivers_what_threads_deliver(tmp_path: Path) -> None:
    threads, dask = tmp_path / "threads", tmp_path / "dask"
    for root in (threads, dask):
        root.mkdir()
        shutil.copytree(REPO / "data" / "samples", root / "samples")
    first = sluis(threads, *run_args(threads, threads / "samples"))
    assert first.returncode == 0, first.stdout + first.stderr
    # The same keys, so pseudonyms agree; the Dask run's lineage is empty otherwise.
    shutil.copytree(threads / "state" / "keys", dask / "state" / "keys")
    second = sluis(dask, *run_args(dask, dask / "samples"), "--task-runner", "dask")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "LocalCluster" in second.stdout + second.stderr, "the run did not use Dask"

    expected, got = _deliveries(threads / "drop"), _deliveries(dask / "drop")
    # Every nightly supplier, for both sample schools.
    assert len(expected) >= 12 and len({school for _, school in expected}) == 2
    assert got.keys() == expected.keys()
    for key in expected:
        assert got[key] == expected[key], key

    # Lineage behaves as with one process: every delivery recorded, the run completed,
    # and the scratch folder of spilled task data is gone with the run.
    for root in (threads, dask):
        with sqlite3.connect(root / "state" / "lineage.db") as db:
            assert db.execute("select count(*) from deliveries").fetchone() == (len(expected),)
            assert db.execute("select status from runs").fetchall() == [("completed",)]
    assert not (dask / "state" / DASK_SCRATCH).exists()
