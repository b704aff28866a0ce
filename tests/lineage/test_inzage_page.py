"""The inzage page a parent reads: the school's name, values in words, nothing technical."""

from __future__ import annotations

from pathlib import Path

from pages import inzage_report

from lineage.inzage import write_inzage


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
