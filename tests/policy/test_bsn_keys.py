"""No national number disguised as a key: a key or user name passing the elfproef is kept back."""

from __future__ import annotations

from datetime import date

from builders import make_consents, make_export, pupil

from contracts.agreements import (
    BUNDLED_AGREEMENTS,
    Agreement,
    LegalBasis,
    LegalBasisType,
    load_agreement,
)
from contracts.validation import validate_school
from lineage.quarantine_report import build_report
from policy.apply import apply_agreement

TODAY = date(2026, 11, 28)
YEAR = "2026-2027"
SECRET = b"0123456789abcdef0123456789abcdef"
BSN = "111222333"  # passes the elfproef
BSN_WITHOUT_ZERO = "12345672"  # 012345672 passes it too
NOT_A_BSN = "111222334"


def _agreement(name: str) -> Agreement:
    return load_agreement(BUNDLED_AGREEMENTS / f"{name}.yaml").agreement


def _school():  # type: ignore[no-untyped-def]
    pupils = [pupil(BSN), pupil(BSN_WITHOUT_ZERO), pupil(NOT_A_BSN), pupil("169356")]
    consents = [
        (p["leerlingkey"], YEAR, c, "ja", "2026-09-01")
        for p in pupils
        for c in ("beeldmateriaal_website", "deelname_onderzoek")
    ]
    return validate_school(make_export(pupils), make_consents(consents), today=TODAY)  # type: ignore[arg-type]


def test_a_supplier_that_receives_the_key_does_not_get_a_key_that_is_a_bsn() -> None:
    cut = apply_agreement(_school(), _agreement("basispoort"), today=TODAY)
    assert dict(cut.withheld) == {BSN: "no_identifier", BSN_WITHOUT_ZERO: "no_identifier"}
    assert sorted(cut.frame["leerlingkey"]) == ["111222334", "169356"]
    assert cut.counts.balanced


def test_a_pseudonymising_supplier_or_one_without_the_key_is_not_affected() -> None:
    school = _school()
    research = apply_agreement(school, _agreement("onderzoek"), today=TODAY, secret=SECRET)
    website = apply_agreement(school, _agreement("schoolwebsite"), today=TODAY)
    assert research.counts.delivered == 4
    assert website.counts.delivered == 4


def test_a_legal_duty_may_receive_it() -> None:
    duty = _agreement("basispoort").model_copy(
        update={
            "legal_basis": LegalBasis(
                type=LegalBasisType.WETTELIJKE_PLICHT, legal_reference="Leerplichtwet art. 18"
            )
        }
    )
    assert apply_agreement(_school(), duty, today=TODAY).counts.delivered == 4


def test_a_user_name_that_is_a_bsn_is_kept_back_where_it_would_travel() -> None:
    pupils = [pupil("1", gebruikersnaam=BSN), pupil("2", gebruikersnaam="sem.jansen")]
    school = validate_school(make_export(pupils), make_consents([]), today=TODAY)
    basispoort = _agreement("basispoort")
    extra = basispoort.fields[0].model_copy(update={"name": "gebruikersnaam"})
    with_name = basispoort.model_copy(update={"fields": [*basispoort.fields, extra]})
    assert dict(apply_agreement(school, with_name, today=TODAY).withheld) == {"1": "no_identifier"}
    assert apply_agreement(school, basispoort, today=TODAY).counts.delivered == 2


def test_the_report_warns_with_a_dutch_fix_and_no_value() -> None:
    report = build_report([_school()]).problems
    warned = report.loc[report["rule"] == "leerlingkey_bsn"]
    assert sorted(warned["leerlingkey"]) == sorted([BSN, BSN_WITHOUT_ZERO])
    assert set(warned["severity"]) == {"warning"}
    assert warned["hint"].str.contains("leerlingnummer dat geen BSN is").all()
    assert _school().quarantined_pupils == 0
