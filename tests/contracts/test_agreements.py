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
    assert set(loaded) == {
        "basispoort",
        "bestuur",
        "leerplicht",
        "schoolwebsite",
        "nieuwsbrief",
        "parro",
        "onderzoek",
        "rekenapp",
    }
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
    assert "geweigerd" in message


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
    with pytest.raises(AgreementError, match=r"fields_extra: onbekende sleutel"):
        load_agreement(path)


def test_unknown_field_lists_what_is_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(fields=[{"name": "schoenmaat", "purpose": "passen"}]))
    with pytest.raises(AgreementError, match=r"fields\[schoenmaat\]: onbekend veld; toegestaan"):
        load_agreement(path)


def test_bad_enum_value_names_the_allowed_values(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(role="leverancier"))
    with pytest.raises(AgreementError, match=r"role: moet 'verwerker', 'derde' of 'overheid' zijn"):
        load_agreement(path)


def test_consent_basis_needs_a_category(tmp_path: Path) -> None:
    path = _write(tmp_path, _base(legal_basis={"type": "toestemming"}))
    with pytest.raises(AgreementError, match="consent_category"):
        load_agreement(path)


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "acme.yaml"
    path.write_text("id: acme\nfields: [\n", encoding="utf-8")
    with pytest.raises(AgreementError, match=r"acme.yaml: geen geldige YAML op regel"):
        load_agreement(path)


def test_photos_on_website_newsletter_and_parro_are_three_agreements_each_on_its_consent() -> None:
    loaded = {a.agreement.id: a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)}
    photos = {
        "schoolwebsite": "beeldmateriaal_website",
        "nieuwsbrief": "beeldmateriaal_nieuwsbrief",
        "parro": "beeldmateriaal_parro",
    }
    for supplier, category in photos.items():
        agreement = loaded[supplier]
        assert agreement.legal_basis.type.value == "toestemming", supplier
        assert agreement.legal_basis.consent_category == category, supplier
    assert len({loaded[s].purpose for s in photos}) == 3  # each its own purpose
    assert len({loaded[s].agreement.reference for s in photos}) == 3
    # Parro processes for the school, yet its photos rest on the parents' consent.
    assert loaded["parro"].role.value == "verwerker"
    assert "toestemming" in loaded["parro"].purpose


def test_unknown_supplier_lists_the_known_ones() -> None:
    with pytest.raises(
        UsageError, match="bekende leveranciers: basispoort, bestuur, leerplicht, nieuwsbrief"
    ):
        load_agreements(BUNDLED_AGREEMENTS, ["basisport"])


def test_id_must_match_file_name(tmp_path: Path) -> None:
    with pytest.raises(AgreementError, match="moet gelijk zijn aan de bestandsnaam"):
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


# --- formats, drops, holds and encryption ----------------------------------------------

_EDEXML_FIELDS = [
    {"name": n, "purpose": "nodig"}
    for n in ("leerlingkey", "achternaam", "roepnaam", "jaargroep", "groepskey")
]
_HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHVu8Yf9d2mS0lJmxS2Cw5N7YdSe8a0y0o4C6zXb5hQ2"


def _error(tmp_path: Path, **changes: object) -> str:
    with pytest.raises(AgreementError) as caught:
        load_agreement(_write(tmp_path, _base(**changes)))
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'acme.yaml'}: ")
    return message


def test_a_missing_field_is_named_in_dutch(tmp_path: Path) -> None:
    data = _base()
    del data["purpose"]
    with pytest.raises(AgreementError) as caught:
        load_agreement(_write(tmp_path, data))
    message = str(caught.value)
    assert "purpose: ontbreekt; deze sleutel is verplicht" in message
    assert "Field required" not in message and "Input should" not in message


def test_an_unknown_format_names_the_file_key_and_the_known_formats(tmp_path: Path) -> None:
    message = _error(tmp_path, format={"type": "xlsx"})
    assert (
        "format.type: moet 'csv', 'parquet', 'edexml', 'oneroster' of 'aggregaat' zijn" in message
    )


def test_delta_on_a_format_that_cannot_express_deletions_is_refused(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        identifier="key",
        fields=_EDEXML_FIELDS,
        format={"type": "edexml"},
        mode="delta",
    )
    assert (
        "mode: delta vraagt een formaat dat de leverancier kan vertellen dat een leerling weg is"
        in message
    )
    assert "edexml kan dat niet" in message


def test_edexml_agreement_with_what_the_schema_needs_loads(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _base(identifier="key", fields=_EDEXML_FIELDS, format={"type": "edexml"})
    )
    assert load_agreement(path).agreement.format.type == "edexml"


def test_a_format_refuses_fields_it_cannot_carry(tmp_path: Path) -> None:
    fields = [*_EDEXML_FIELDS, {"name": "geboortejaar", "purpose": "leeftijd"}]
    message = _error(tmp_path, identifier="key", fields=fields, format={"type": "edexml"})
    assert "fields[geboortejaar]: edexml heeft er geen element voor" in message


def test_an_unknown_profile_lists_the_known_ones(tmp_path: Path) -> None:
    message = _error(
        tmp_path,
        identifier="key",
        fields=_EDEXML_FIELDS,
        format={"type": "edexml", "profile": "uwlr-brede-set"},
    )
    assert (
        "format.profile: onbekend profiel 'uwlr-brede-set' voor edexml; toegestaan: uwlr-smalle-set"
        in message
    )


def test_teachers_only_in_formats_that_carry_them(tmp_path: Path) -> None:
    message = _error(tmp_path, teacher_fields=[{"name": "roepnaam", "purpose": "tonen"}])
    assert "teacher_fields: csv levert alleen leerlingen" in message


def test_an_unknown_teacher_field_lists_the_allowed_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, teacher_fields=[{"name": "bsn", "purpose": "xyz"}])
    assert "teacher_fields[bsn]: onbekend veld; toegestaan: leerkrachtkey, eckid" in message


def test_an_sftp_drop_without_a_host_key_is_refused_with_how_to_get_one(tmp_path: Path) -> None:
    drop = {"type": "sftp", "host": "sftp.example.nl", "username": "school", "secret": "acme-sftp"}
    message = _error(tmp_path, drop=drop)
    assert "drop.sftp: een SFTP-drop vraagt host_key" in message
    assert "ssh-keyscan" in message


def test_an_sftp_drop_never_holds_the_password_itself(tmp_path: Path) -> None:
    drop = {
        "type": "sftp",
        "host": "sftp.example.nl",
        "username": "school",
        "host_key": _HOST_KEY,
        "secret": "acme-sftp",
        "password": "geheim",
    }
    message = _error(tmp_path, drop=drop)
    assert "drop.sftp.password: onbekende sleutel" in message
    assert "geheim" not in message


def test_an_sftp_drop_with_a_pinned_key_and_a_named_secret_loads(tmp_path: Path) -> None:
    drop = {
        "type": "sftp",
        "host": "sftp.example.nl",
        "username": "school",
        "host_key": _HOST_KEY,
        "secret": "acme-sftp",
    }
    loaded = load_agreement(_write(tmp_path, _base(drop=drop))).agreement
    assert loaded.drop.type == "sftp"
    assert loaded.drop.host_key == [_HOST_KEY]  # type: ignore[union-attr]


def test_an_unknown_drop_type_lists_the_known_ones(tmp_path: Path) -> None:
    message = _error(tmp_path, drop={"type": "ftp"})
    assert "drop: 'type' 'ftp' is onbekend; bekend zijn" in message
    assert "'folder', 'sftp'" in message


def test_hold_thresholds_are_percentages(tmp_path: Path) -> None:
    message = _error(tmp_path, hold={"max_removed_pct": 150})
    assert "hold.max_removed_pct: mag hoogstens 100 zijn" in message


def test_a_bad_age_key_is_refused_on_load(tmp_path: Path) -> None:
    message = _error(tmp_path, encryption={"age_recipient": "age1notakey"})
    assert "encryption.age_recipient: geen geldige publieke age-sleutel" in message
