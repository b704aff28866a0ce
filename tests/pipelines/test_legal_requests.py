"""Legal duty on request: `sluis verstrek`, never nightly, recorded, shown in inzage."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis
from sqlalchemy import select

from connectors.errors import AgreementError, UsageError
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement_set, load_agreements
from lineage.store import LineageStore, RunRecord
from pipelines.keys import audit_log
from pipelines.legal_requests import LegalRequest, answer_request
from pipelines.run_guards import ON_REQUEST_STATUS, RunAgreements
from pipelines.serve import _schedules
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]
EXPORT = REPO / "data" / "samples" / "27ZX"
PUPIL = "257899"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "drop").mkdir()
    return Settings(state_dir=tmp_path / "state", drop_dir=tmp_path / "drop")


def _request(**changes: object) -> LegalRequest:
    values: dict[str, object] = {
        "supplier": "leerplicht",
        "requester": "J. de Boer, leerplicht Zinderen",
        "reference": "LP-2026-0142",
        "pupils": (PUPIL,),
    }
    values.update(changes)
    return LegalRequest(**values)  # type: ignore[arg-type]


def _delivered(settings: Settings) -> tuple[dict[str, object], list[dict[str, str]]]:
    [folder] = (settings.drop_dir / "leerplicht").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    [data] = [folder / f["name"] for f in manifest["files"]]
    rows = list(csv.DictReader(io.StringIO(data.read_text(encoding="utf-8")), delimiter=";"))
    return manifest, rows


def test_a_request_for_a_named_pupil_delivers_that_pupil_with_the_agreements_fields_only(
    settings: Settings,
) -> None:
    outcome = answer_request(settings, _request(), source=EXPORT, actor="tester", version="t")
    assert outcome.status == "delivered"
    manifest, rows = _delivered(settings)
    allowed = load_agreement_set(BUNDLED_AGREEMENTS, ["leerplicht"]).agreements[0]
    assert manifest["fields"] == allowed.agreement.field_names
    assert manifest["counts"]["delivered"] == 1
    assert len(rows) == 1
    assert set(rows[0]) == set(allowed.agreement.field_names)
    # The national identifier goes only here, under the agreement's legal reference.
    assert "bsn" in rows[0]


def test_lineage_and_the_audit_log_record_who_asked_and_the_reference(
    settings: Settings,
) -> None:
    answer_request(settings, _request(), source=EXPORT, actor="tester", version="t")
    store = LineageStore(settings.lineage_url())
    try:
        with store.engine.connect() as connection:
            [run] = connection.execute(select(RunRecord)).all()
        entries = audit_log(settings, store.engine).entries()
    finally:
        store.dispose()
    assert run.trigger == "verstrek"
    assert run.parameters["aanvrager"] == "J. de Boer, leerplicht Zinderen"
    assert run.parameters["kenmerk"] == "LP-2026-0142"
    # No pupil key in what lineage keeps about the run.
    assert PUPIL not in json.dumps(run.parameters)
    [entry] = [e for e in entries if e.action == "legal_request"]
    assert entry.actor == "tester"
    assert entry.details["kenmerk"] == "LP-2026-0142"
    assert entry.details["aanvrager"] == "J. de Boer, leerplicht Zinderen"
    assert PUPIL not in json.dumps(dict(entry.details))


def test_the_pupils_inzage_shows_the_request(settings: Settings, tmp_path: Path) -> None:
    answer_request(settings, _request(), source=EXPORT, actor="tester", version="t")
    code, _, err = sluis(
        "inzage", PUPIL, "--state", str(settings.state_dir), "--out", str(tmp_path / "inzage")
    )
    assert code == 0, err
    report = json.loads((tmp_path / "inzage" / f"inzage-{PUPIL}.json").read_text("utf-8"))
    [section] = [s for s in report["suppliers"] if s["supplier"] == "leerplicht"]
    [request] = section["requests"]
    assert request["kenmerk"] == "LP-2026-0142"
    assert request["aanvrager"] == "J. de Boer, leerplicht Zinderen"
    assert "Leerplichtwet" in request["legal_reference"]
    html = (tmp_path / "inzage" / f"inzage-{PUPIL}.html").read_text("utf-8")
    assert "kenmerk LP-2026-0142" in html


def test_a_jaargroep_request_delivers_only_that_jaargroep(settings: Settings) -> None:
    answer_request(
        settings, _request(pupils=(), jaargroepen=("3",)), source=EXPORT, actor="t", version="t"
    )
    _, rows = _delivered(settings)
    assert rows
    assert {r["jaargroep"] for r in rows} == {"3"}


def test_verstrek_refuses_an_agreement_without_a_legal_duty(settings: Settings) -> None:
    with pytest.raises(UsageError, match="alleen een ontvanger met een wettelijke taak"):
        answer_request(
            settings, _request(supplier="basispoort"), source=EXPORT, actor="t", version="t"
        )
    assert not (settings.drop_dir / "basispoort").exists()


def test_verstrek_needs_a_requester_and_a_reference(settings: Settings) -> None:
    with pytest.raises(UsageError, match="--kenmerk is verplicht"):
        answer_request(settings, _request(reference="  "), source=EXPORT, actor="t", version="t")
    code, _, err = sluis("verstrek", "leerplicht", "--aanvrager", "x", "--source", str(EXPORT))
    assert code == 2
    assert "kenmerk" in err


def test_a_nightly_run_skips_a_legal_duty_agreement_and_says_alleen_op_verzoek(
    tmp_path: Path,
) -> None:
    found = RunAgreements.load(Settings(state_dir=tmp_path), ())
    assert "leerplicht" not in [a.agreement.id for a in found.selected]
    assert "basispoort" in [a.agreement.id for a in found.selected]
    [row] = found.on_request_rows()
    assert row["supplier"] == "leerplicht"
    assert row["status"] == ON_REQUEST_STATUS == "alleen op verzoek"
    # Also when a run names it.
    named = RunAgreements.load(Settings(state_dir=tmp_path), ("leerplicht",))
    assert named.selected == []


def test_the_deployments_do_not_schedule_a_legal_duty_agreement() -> None:
    loaded = load_agreement_set(BUNDLED_AGREEMENTS).agreements
    own = [
        a.model_copy(
            update={
                "agreement": a.agreement.model_copy(
                    update={
                        "schedule": a.agreement.schedule.model_copy(update={"cron": "0 5 * * *"})
                    }
                )
            }
        )
        if a.agreement.id == "basispoort"
        else a
        for a in loaded
    ]
    schedules = _schedules(own, "0 2 * * *")
    assert all("leerplicht" not in suppliers for _, suppliers in schedules)
    assert any("rekenapp" in suppliers for _, suppliers in schedules)


def test_a_schedule_on_a_legal_duty_agreement_is_refused(tmp_path: Path) -> None:
    text = (BUNDLED_AGREEMENTS / "leerplicht.yaml").read_text(encoding="utf-8")
    (tmp_path / "leerplicht.yaml").write_text(text + "schedule:\n  cron: '0 2 * * *'\n", "utf-8")
    with pytest.raises(AgreementError, match="levert alleen op verzoek"):
        load_agreements(tmp_path)
