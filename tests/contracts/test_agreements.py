"""Agreements load with errors that name the file, the key and what is allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from connectors.errors import AgreementError, UsageError
from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement, load_agreements
from contracts.catalog import field_catalog, lookup_field
from contracts.classification import ALWAYS_DENIED, LEGAL_DUTY_ONLY, Classification


def _write(tmp_path: Path, data: dict[str, object], name: str = "acme") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _base(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "id": "acme",
        "name": "Acme Leermiddelen",
        "role": "verwerker",
        "legal_basis": {"type": "overeenkomst"},
        "agreement": {"reference": "VO-1", "valid_from": "2025-08-01"},
        "purpose": "Toegang tot rekenmethode",
        "identifier": "eckid",
        "fields": [{"name": "eckid", "purpose": "koppelen"}],
    }
    data.update(changes)
    return data


def test_the_shipped_agreements_load() -> None:
    loaded = {a.agreement.id: a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)}
    assert set(loaded) == {"basispoort", "schoolwebsite", "onderzoek", "rekenapp"}
    assert loaded["basispoort"].format.type == "edexml"
    assert (loaded["rekenapp"].format.type, loaded["rekenapp"].mode) == ("oneroster", "delta")
    assert loaded["basispoort"].field_names == [
        "eckid",
        "roepnaam",
        "achternaam",
        "voorvoegsel",
        "geboortedatum",
        "leerlingkey",
        "groepskey",
        "groepsnaam",
        "jaargroep",
        "geslacht",
        "brincode",
    ]
    assert loaded["schoolwebsite"].consent_category == "beeldmateriaal_website"
    assert loaded["schoolwebsite"].field_names == [
        "roepnaam",
        "voorvoegsel",
        "achternaam",
        "groepsnaam",
    ]
    assert loaded["onderzoek"].consent_category == "deelname_onderzoek"
    assert loaded["onderzoek"].role.value == "derde"
    assert set(loaded["onderzoek"].field_names) == {
        "pseudoniem",
        "geboortejaar",
        "geslacht",
        "jaargroep",
    }


@pytest.mark.parametrize(
    "denied",
    [
        "bsn",
        "etniciteit",
        "land",
        "gewicht_nieuw",
        "postcode",
        "toevoegingen",
        "onderwijsnummer",
        "bsn_ondwnr4",
    ],
)
def test_a_denied_field_fails_to_load_with_the_reason(tmp_path: Path, denied: str) -> None:
    fields = [{"name": "eckid", "purpose": "koppelen"}, {"name": denied, "purpose": "waarom niet"}]
    path = _write(tmp_path, _base(fields=fields))
    with pytest.raises(AgreementError) as caught:
        load_agreement(path)
    message = str(caught.value)
    assert str(path) in message
    assert f"fields[{denied}]" in message
    assert "denied" in message


def test_a_legal_duty_may_receive_the_bsn_but_never_free_text(tmp_path: Path) -> None:
    duty = _base(
        role="overheid",
        legal_basis={"type": "wettelijke_plicht", "legal_reference": "Leerplichtwet 1969 art. 18"},
        fields=[
            {"name": "leerlingkey", "purpose": "koppelen"},
            {"name": "bsn", "purpose": "melding"},
        ],
        identifier="key",
    )
    assert load_agreement(_write(tmp_path, duty)).agreement.legal_duty
    duty["fields"] = [
        {"name": "leerlingkey", "purpose": "koppelen"},
        {"name": "toevoegingen", "purpose": "opmerkingen"},
    ]
    with pytest.raises(AgreementError, match="deny-list"):
        load_agreement(_write(tmp_path, duty))


def test_unknown_key_names_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(fields_extra=["x"]))
    with pytest.raises(AgreementError, match=r"fields_extra: Extra inputs are not permitted"):
        load_agreement(path)


def test_unknown_field_lists_what_is_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(fields=[{"name": "schoenmaat", "purpose": "passen"}]))
    with pytest.raises(AgreementError, match=r"fields\[schoenmaat\]: unknown field; allowed"):
        load_agreement(path)


def test_bad_enum_value_names_the_allowed_values(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(role="leverancier"))
    with pytest.raises(AgreementError, match=r"role: Input should be 'verwerker', 'derde'"):
        load_agreement(path)


def test_consent_basis_needs_a_category(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(legal_basis={"type": "toestemming"}))
    with pytest.raises(AgreementError, match="consent_category"):
        load_agreement(path)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("id: acme\nfields: [\n", encoding="utf-8")
    with pytest.raises(AgreementError, match=r"acme.yaml: not valid YAML at line"):
        load_agreement(path)


def test_unknown_supplier_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="known suppliers: basispoort, onderzoek"):
        load_agreements(BUNDLED_AGREEMENTS, ["basisport"])


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="must equal the file name"):
        load_agreement(_write(tmp_path, _base(), name="other"))


def test_expiry_is_honoured(tmp_path: Path) -> None:
    from datetime import date

    data = _base(
        agreement={"reference": "x", "valid_from": "2024-01-01", "valid_until": "2025-12-31"}
    )
    agreement = load_agreement(_write(tmp_path, data)).agreement
    assert agreement.is_valid_on(date(2025, 12, 31))
    assert not agreement.is_valid_on(date(2026, 1, 1))


def test_every_sensitive_contract_field_is_classified_as_denied() -> None:
    denied = {
        name
        for name, info in field_catalog().items()
        if info.classification in ALWAYS_DENIED | LEGAL_DUTY_ONLY
    }
    assert {
        "bsn",
        "sofinummer",
        "onderwijsnummer",
        "bsn_ondwnr4",
        "rijksregisternummer",
        "etniciteit",
        "land",
        "land_vader",
        "land_moeder",
        "gewicht",
        "gewicht_nieuw",
        "postcode",
        "toevoegingen",
    } <= denied
    assert lookup_field("toestemming_beeldmateriaal_website").classification is (  # type: ignore[union-attr]
        Classification.CONSENT
    )
