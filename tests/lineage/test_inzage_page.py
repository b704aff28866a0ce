"""The inzage page a parent reads: the school's name, values in words, nothing technical."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from pages import inzage_report

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from lineage.inzage import build_inzage, write_inzage
from lineage.rights import PupilDelivery


def test_the_inzage_page_says_the_school_and_shows_values_in_words(tmp_path: Path) -> None:
    html_path, _ = write_inzage(inzage_report(), tmp_path)
    page = html_path.read_text(encoding="utf-8")
    assert "RKBS de Flint (BRIN 27ZX)" in page
    assert "<td>meisje</td>" in page
    assert "<td>1 maart 2019</td>" in page
    assert "Geleverd op: 14 november 2026" in page
    # The BRIN under "nu in de administratie" is filled.
    assert "<td>BRIN-nummer van de school</td><td>27ZX</td>" in page
    assert "veldnaam" not in page
    assert "<code>" not in page
    assert "overflow-wrap:anywhere" in page


def test_the_inzage_says_the_board_gets_counts_and_shows_it_no_values() -> None:
    agreements = {a.agreement.id: a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)}
    report = build_inzage(
        leerlingkey="100234",
        school="27ZX",
        deliveries=[
            PupilDelivery(
                delivery_id="b1",
                supplier="bestuur",
                school="27ZX",
                created_at=datetime(2026, 11, 14, 2, 0, tzinfo=UTC),
                fields=("brincode", "jaargroep", "geslacht"),
                agreement_reference="Afspraak bestuur",
                status="delivered",
            )
        ],
        agreements=agreements,
        erasure=None,
        latest_delivery={"bestuur": "b1"},
        status_now={"bestuur": "delivered"},
        current_values={"bestuur": {"geslacht": "2", "jaargroep": "5", "brincode": "27ZX"}},
    )
    [section] = report.suppliers
    assert section.now == "krijgt alleen aantallen leerlingen, geen gegevens van dit kind"
    assert section.current_values == {}
