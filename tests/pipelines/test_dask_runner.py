"""`sluis run --task-runner dask`: the same deliveries as the default runner, on Dask.

Two real runs of the CLI on the samples, one on the default thread runner and one on a
LocalCluster of 2 worker processes, with the same keys. Every data file and every manifest
field must be the same, except the run's id and its time (`created_at`, which EDEXML's
aanmaakdatum and OneRoster's dateLastModified carry too).

Then two Dask runs in this process, as `sluis run --task-runner dask` makes them, watched
from the flow's side: locks, lineage and keys behave as with one process.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sqlite3
import stat
import sys
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

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
    keys = _keys(dask / "state")
    second = sluis(
        dask,
        *run_args(dask, dask / "samples"),
        "--task-runner",
        "dask",
        env={"SLUIS_DASK_WORKERS": "2"},
    )
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
    # The workers used the keys they were given: none added, replaced or opened up.
    assert _keys(dask / "state") == keys


def _keys(state: Path) -> dict[str, tuple[bytes, int]]:
    """Each key file under the state's keys folder: its content and mode."""
    return {
        str(path.relative_to(state)): (path.read_bytes(), stat.S_IMODE(path.stat().st_mode))
        for path in sorted((state / "keys").rglob("*"))
        if path.is_file()
    }


@dataclass
class Watched:
    """What the flow's process saw of a Dask run, and what the run returned."""

    summary: dict[str, Any] = field(default_factory=dict)
    # The pids of the cluster's workers, asked as delivery starts.
    workers: set[int] = field(default_factory=set)
    # Confirmations of published deliveries made in the flow's process.
    confirmed_here: int = 0
    # Statuses of the outcomes the flow recorded itself, after the tasks.
    recorded_here: list[str] = field(default_factory=list)
    manifests: set[Path] = field(default_factory=set)
    keys: dict[str, tuple[bytes, int]] = field(default_factory=dict)
    locks: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class DaskRuns:
    """Two Dask runs of the samples, one after the other, into the same drop and state."""

    root: Path
    first: Watched
    second: Watched

    @property
    def state(self) -> Path:
        """The runs' state folder."""
        return self.root / "state"

    def lineage(self, query: str, *args: object) -> list[tuple[Any, ...]]:
        """Rows of `query` on the runs' lineage database."""
        with sqlite3.connect(self.state / "lineage.db") as db:
            return db.execute(query, args).fetchall()


@pytest.fixture(scope="module")
def dask_runs(tmp_path_factory: pytest.TempPathFactory) -> DaskRuns:
    """`run_sync` as the CLI calls it, twice, with SLUIS_TASK_RUNNER=dask and 2 workers."""
    from prefect.context import FlowRunContext
    from prefect.testing.utilities import prefect_test_harness
    from prefect_dask.task_runners import DaskTaskRunner

    from pipelines import holds, steps
    from pipelines.cli_run import run_sync
    from pipelines.flows import SyncRequest
    from pipelines.publishing import RunLedger

    root = tmp_path_factory.mktemp("dask-runs")
    shutil.copytree(REPO / "data" / "samples", root / "samples")
    request = SyncRequest(
        source=str(root / "samples"),
        drop=str(root / "drop"),
        state=str(root / "state"),
        trigger="cli",
    )
    confirm, record, deliver = RunLedger.confirm, holds.record_outcomes, steps.deliver_per_batch
    watching = Watched()

    # In the flow's process only: the workers import their own, unwatched copies.
    def confirming(ledger: RunLedger, *args: Any, **kwargs: Any) -> None:
        watching.confirmed_here += 1
        confirm(ledger, *args, **kwargs)

    def recording(*args: Any) -> None:
        watching.recorded_here.extend(o.status for o in args[3])
        record(*args)

    def delivering(*args: Any) -> steps.Delivered:
        context = FlowRunContext.get()
        assert context is not None
        runner = cast(DaskTaskRunner, context.task_runner)
        pids = runner.client.run(os.getpid)
        watching.workers = set(pids.values())
        return deliver(*args)

    def watched_run() -> Watched:
        nonlocal watching
        watching = Watched()
        watching.summary = run_sync(request)
        watching.manifests = set((root / "drop").glob("*/*/manifest.json"))
        watching.keys = _keys(root / "state")
        with sqlite3.connect(root / "state" / "lineage.db") as db:
            watching.locks = db.execute("select school, run_id from run_locks").fetchall()
        return watching

    with pytest.MonkeyPatch.context() as patch, prefect_test_harness(server_startup_timeout=180):
        patch.setenv("SLUIS_TASK_RUNNER", "dask")
        patch.setenv("SLUIS_DASK_WORKERS", "2")
        patch.setattr(RunLedger, "confirm", confirming)
        patch.setattr(steps, "record_outcomes", recording)
        patch.setattr(steps, "deliver_per_batch", delivering)
        first = watched_run()
        second = watched_run()
    return DaskRuns(root=root, first=first, second=second)


@pytest.mark.prefect
def test_a_dask_run_delivers_from_two_worker_processes_apart_from_the_flow(
    dask_runs: DaskRuns,
) -> None:
    for run in (dask_runs.first, dask_runs.second):
        assert len(run.workers) == 2
        assert os.getpid() not in run.workers


@pytest.mark.prefect
def test_lineage_records_every_delivery_of_a_dask_run_as_the_workers_confirmed_it(
    dask_runs: DaskRuns,
) -> None:
    run_id = dask_runs.first.summary["run_id"]
    rows = dask_runs.lineage(
        "select supplier, school, status, location from deliveries where run_id = ?", run_id
    )
    published = {
        (json.loads(path.read_text(encoding="utf-8"))["supplier"], path.parent)
        for path in dask_runs.first.manifests
    }
    assert len(published) >= 12
    delivered = [row for row in rows if row[2] == "delivered"]
    assert {(supplier, Path(str(location))) for supplier, _s, _st, location in delivered} == (
        published
    )
    assert [row for row in rows if row[2] == "publishing"] == []
    # Published and confirmed by the workers, each through its own copy of the ledger; the
    # flow learnt it from lineage and recorded none of them a second time.
    assert dask_runs.first.confirmed_here == 0
    assert "delivered" not in dask_runs.first.recorded_here
    members = dask_runs.lineage(
        "select count(distinct delivery_id) from delivery_members where delivery_id in "
        "(select delivery_id from deliveries where run_id = ? and status = 'delivered')",
        run_id,
    )
    assert members == [(len(delivered),)]
    assert dask_runs.lineage("select count(*) from supplier_state_pending") == [(0,)]
    assert dask_runs.lineage("select status from runs order by started_at") == [
        ("completed",),
        ("completed",),
    ]


@pytest.mark.prefect
def test_a_dask_run_releases_the_school_locks(dask_runs: DaskRuns) -> None:
    assert dask_runs.first.locks == []
    assert dask_runs.second.locks == []


@pytest.mark.prefect
def test_a_dask_run_leaves_no_staging_and_no_dask_scratch(dask_runs: DaskRuns) -> None:
    staging = dask_runs.state / "staging"
    assert not staging.exists() or list(staging.iterdir()) == []
    assert not (dask_runs.state / DASK_SCRATCH).exists()


@pytest.mark.prefect
def test_a_dask_run_leaves_the_keys_as_they_were_and_owner_only(dask_runs: DaskRuns) -> None:
    first, second = dask_runs.first.keys, dask_runs.second.keys
    assert first, "the first run made the keys"
    assert second == first
    assert {mode for _content, mode in first.values()} == {0o600}


@pytest.mark.prefect
def test_a_second_dask_run_sends_nothing(dask_runs: DaskRuns) -> None:
    second = dask_runs.second
    # A school's row per supplier; the legal-duty supplier's row says it delivers on request.
    statuses = {row["status"] for row in second.summary["rows"] if row["school"] != "-"}
    assert statuses == {"nothing_to_deliver"}
    assert second.manifests == dask_runs.first.manifests
    assert dask_runs.lineage(
        "select distinct status from deliveries where run_id = ?", second.summary["run_id"]
    ) == [("nothing_to_deliver",)]
