"""A run stops before it delivers or holds anything when a key is lost, skips only the
supplier of a bad agreement, and anchors the audit log's head outside the database.

The flow runs in this process against one temporary Prefect API for the module
(prefect_test_harness), through the `sluis` command as a coordinator types it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from contracts.agreements import BUNDLED_AGREEMENTS

pytestmark = pytest.mark.prefect

REPO = Path(__file__).resolve().parents[2]
ERASED = "257899"  # a pupil of 27ZX in the samples

LEESAPP = (BUNDLED_AGREEMENTS / "basispoort.yaml").read_text(encoding="utf-8")


def _bad_agreement() -> str:
    """A new leesapp.yaml asking for the BSN: the deny-list refuses it."""
    text = LEESAPP.replace("id: basispoort", "id: leesapp")
    return text.replace(
        "  - name: eckid\n", "  - name: bsn\n    purpose: koppelen\n  - name: eckid\n", 1
    )


@dataclass
class Cli:
    root: Path
    env: dict[str, str] = field(default_factory=dict)

    def __call__(self, *args: str) -> tuple[int, str, str]:
        from pipelines.cli import main

        out, err = io.StringIO(), io.StringIO()
        argv, sys.argv = sys.argv, ["sluis", *args]
        saved = {k: os.environ.get(k) for k in self.env}
        os.environ.update(self.env)
        code = 0
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main()
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            sys.argv = argv
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        return code, out.getvalue(), err.getvalue()

    def run(self, *extra: str) -> tuple[int, str, str]:
        return self(
            "run",
            "--source",
            str(self.root / "samples"),
            "--drop",
            str(self.root / "drop"),
            "--state",
            str(self.root / "state"),
            *extra,
        )

    def db(self, query: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.root / "state" / "lineage.db") as db:
            return db.execute(query).fetchall()


def _cli(root: Path, **env: str) -> Cli:
    shutil.copytree(REPO / "data" / "samples", root / "samples")
    return Cli(root, env)


@pytest.fixture(scope="module")
def harness() -> Iterator[None]:
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.startswith("sluis: ")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def _files(folder: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} if folder.exists() else {}


# -- a lost membership key ------------------------------------------------------------------


def test_a_lost_membership_key_stops_the_run_before_anything_is_delivered_or_held(
    harness: None, tmp_path: Path
) -> None:
    sluis = _cli(tmp_path)
    code, _, err = sluis.run()
    assert code == 0, err
    code, _, err = sluis(
        "vergeet",
        ERASED,
        "--school",
        "27ZX",
        "--reden",
        "verzoek",
        "--state",
        str(tmp_path / "state"),
    )
    assert code == 0, err
    key_file = tmp_path / "state" / "keys" / "lineage-membership.key"
    backup = key_file.read_bytes()
    key_file.unlink()
    drop, deliveries = _files(tmp_path / "drop"), sluis.db("select * from deliveries")

    code, _, err = sluis.run()

    assert code == 1
    line = _one_line(err)
    assert f"de lidmaatschapssleutel ontbreekt: die hoort in {key_file}" in line
    assert "zet de sleutel terug uit de back-up" in line
    # Nothing went out, nothing waits for approval, and no new key was made.
    assert _files(tmp_path / "drop") == drop
    assert sluis.db("select * from deliveries") == deliveries
    assert not list((tmp_path / "state" / "held").rglob("manifest.json"))
    assert not key_file.exists()
    assert sluis.db("select status, message from runs order by started_at")[-1][0] == "failed"

    # The key restored from the backup: the erased pupil goes to nobody.
    key_file.write_bytes(backup)
    key_file.chmod(0o600)
    code, _, err = sluis.run()
    assert code == 0, err
    latest = sorted((tmp_path / "drop" / "basispoort").glob("*27zx*/manifest.json"))[-1]
    assert json.loads(latest.read_text())["counts"]["withheld"].get("erased") == 1


# -- a bad agreement stops only its own supplier --------------------------------------------


@dataclass
class BadAgreement:
    """One lineage and drop, through a sequence of runs (done once, in this order)."""

    cli: Cli
    results: dict[str, tuple[int, str, str]] = field(default_factory=dict)
    manifests: dict[str, dict[str, int]] = field(default_factory=dict)
    rekenapp_state: dict[str, int] = field(default_factory=dict)

    def count(self, step: str) -> None:
        drop = self.cli.root / "drop"
        self.manifests[step] = {
            p.name: len(list(p.glob("*/manifest.json"))) for p in drop.iterdir() if p.is_dir()
        }
        [(rows,)] = self.cli.db("select count(*) from supplier_state where supplier = 'rekenapp'")
        self.rekenapp_state[step] = rows


@pytest.fixture(scope="module")
def bad(harness: None, tmp_path_factory: pytest.TempPathFactory) -> BadAgreement:
    root = tmp_path_factory.mktemp("bad-agreement")
    agreements = root / "suppliers"
    shutil.copytree(BUNDLED_AGREEMENTS, agreements, ignore=shutil.ignore_patterns("*.py*"))
    (agreements / "leesapp.yaml").write_text(_bad_agreement(), encoding="utf-8")
    scenario = BadAgreement(_cli(root, SLUIS_AGREEMENTS_DIR=str(agreements)))
    sluis = scenario.cli
    scenario.results["basispoort"] = sluis.run("--supplier", "basispoort")
    scenario.count("basispoort")
    scenario.results["all"] = sluis.run()
    scenario.count("all")
    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        [latest] = client.read_flow_runs(limit=1, sort="START_TIME_DESC")  # type: ignore[arg-type]
    scenario.results["all-prefect"] = (0, latest.state.message or "", latest.state.type.value)
    scenario.results["leesapp"] = sluis.run("--supplier", "leesapp")
    scenario.count("leesapp")
    # rekenapp's file breaks (a second mode: key) while it holds pupils.
    rekenapp = agreements / "rekenapp.yaml"
    rekenapp.write_text(rekenapp.read_text(encoding="utf-8") + "mode: full\n", encoding="utf-8")
    scenario.results["rekenapp-broken"] = sluis.run("--supplier", "basispoort")
    scenario.count("rekenapp-broken")
    scenario.results["verify"] = sluis("audit", "verify", "--state", str(root / "state"))
    return scenario


def test_a_bad_agreement_of_another_supplier_does_not_stop_a_supplier_run(
    bad: BadAgreement,
) -> None:
    code, _, err = bad.results["basispoort"]

    assert code == 0, err
    assert bad.manifests["basispoort"] == {"basispoort": 2}


def test_a_run_of_every_supplier_skips_the_bad_one_delivers_the_others_and_fails(
    bad: BadAgreement,
) -> None:
    code, _, err = bad.results["all"]

    assert code == 1
    line = _one_line(err)
    assert "de overeenkomst(en) van leesapp zijn overgeslagen, want niet bruikbaar" in line
    assert "leesapp.yaml: fields[bsn]: geweigerd" in line
    assert bad.manifests["all"] == {
        "basispoort": 2,  # nothing changed since its own run
        "bestuur": 2,
        "onderzoek": 2,
        "rekenapp": 2,
        "schoolwebsite": 2,
        "nieuwsbrief": 2,
        "parro": 2,
    }
    runs = bad.cli.db("select status, message from runs order by started_at")
    assert runs[1][0] == "failed" and "leesapp" in runs[1][1]
    # The Prefect flow run is marked failed with that message.
    _, message, state = bad.results["all-prefect"]
    assert state == "FAILED"
    assert "de overeenkomst(en) van leesapp zijn overgeslagen" in message


def test_an_explicitly_selected_bad_supplier_gets_nothing_and_exit_1(bad: BadAgreement) -> None:
    code, _, err = bad.results["leesapp"]

    assert code == 1
    assert "leesapp.yaml: fields[bsn]: geweigerd" in _one_line(err)
    assert "leesapp" not in bad.manifests["leesapp"]


def test_a_supplier_whose_file_broke_keeps_its_state_through_retention(
    bad: BadAgreement,
) -> None:
    code, _, err = bad.results["rekenapp-broken"]

    assert code == 0, err
    assert bad.rekenapp_state["all"] > 0
    assert bad.rekenapp_state["rekenapp-broken"] == bad.rekenapp_state["all"]


# -- the audit log's head, outside the database ----------------------------------------------


def test_each_run_anchors_the_audit_head_in_lineage_openlineage_and_prefect(
    bad: BadAgreement,
) -> None:
    code, _, err = bad.results["verify"]
    assert code == 0, err
    runs = bad.cli.db("select run_id, audit_seq, audit_mac from runs order by started_at")
    assert len(runs) == 3 and all(seq and mac for _, seq, mac in runs)
    run_id, seq, mac = runs[0]  # the completed --supplier basispoort run
    state = bad.cli.root / "state"
    events = [json.loads(line) for line in (state / "openlineage.ndjson").read_text().splitlines()]
    [complete] = [e for e in events if e["eventType"] == "COMPLETE" and e["run"]["runId"] == run_id]
    facet = complete["run"]["facets"]["sluisAudit"]
    assert (facet["seq"], facet["mac"]) == (seq, mac)

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["sluis-audit-head"]))
        )
    assert any(f"{seq}:{mac}" in str(a.data) for a in artifacts)
