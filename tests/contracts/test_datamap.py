"""The parents' data map is generated from the agreements, so it follows every change."""

from __future__ import annotations

from pathlib import Path

import yaml

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreement, load_agreements
from contracts.datamap import datamap_html, datamap_markdown


def _agreements() -> list:  # type: ignore[type-arg]
    return [a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)]


def test_every_supplier_and_field_is_described_in_dutch() -> None:
    page = datamap_html(_agreements(), school="07XY")
    for name in (
        "Basispoort",
        "Schoolwebsite",
        "Nieuwsbrief",
        "Parro",
        "Onderzoek leesontwikkeling",
    ):
        assert name in page
    for category in ("website", "nieuwsbrief", "parro"):
        assert (
            f"toestemming van de ouders (categorie &#x27;beeldmateriaal_{category}&#x27;)" in page
        )
    assert "pseudoniem: een code per leverancier" in page
    assert "geboortejaar" in page
    assert "Verwerkersovereenkomst Basispoort" in page


def test_adding_a_field_to_an_agreement_changes_the_page(tmp_path: Path) -> None:
    source = BUNDLED_AGREEMENTS / "schoolwebsite.yaml"
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    before = datamap_markdown([load_agreement(source).agreement], school="07XY")
    data["fields"].append({"name": "jaargroep", "purpose": "Foto's per jaargroep tonen"})
    changed = tmp_path / "schoolwebsite.yaml"
    changed.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    after = datamap_markdown([load_agreement(changed).agreement], school="07XY")
    assert "`jaargroep`" not in before
    assert "| jaargroep (groep 1 tot en met 8) | Foto's per jaargroep tonen |" in after
