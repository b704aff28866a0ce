"""The pages for parents in a real browser: phone and laptop width, printed as a PDF.

Playwright drives Debian's chromium (its own browser download cannot reach its host
here). Without a browser the tests skip, saying why; with SLUIS_REQUIRE_BROWSER=1 (CI)
they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pages import inzage_report

from contracts.agreements import BUNDLED_AGREEMENTS, load_agreements
from contracts.datamap import datamap_html
from lineage.inzage import write_inzage

CHROMIUM = os.environ.get("SLUIS_CHROMIUM", "/usr/bin/chromium")


def _missing(reason: str) -> None:
    if os.environ.get("SLUIS_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (SLUIS_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install -e '.[test]')")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _missing(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("pages")
    inzage, _ = write_inzage(inzage_report(), folder)
    datamap = folder / "datamap.html"
    agreements = [a.agreement for a in load_agreements(BUNDLED_AGREEMENTS)]
    datamap.write_text(datamap_html(agreements, school="27ZX", school_name="RKBS de Flint"))
    return {"inzage": inzage, "datamap": datamap}


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("name", ["inzage", "datamap"])
def test_the_page_does_not_scroll_sideways(
    browser: Any, pages: dict[str, Path], name: str, width: int
) -> None:
    page = browser.new_page(viewport={"width": width, "height": 800})
    try:
        page.goto(pages[name].as_uri())
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, f"{name} at {width}px scrolls sideways: {scroll} > {inner}"
        assert "RKBS de Flint" in page.inner_text("body")
    finally:
        page.close()


@pytest.mark.parametrize("name", ["inzage", "datamap"])
def test_the_page_prints_as_a_pdf(browser: Any, pages: dict[str, Path], name: str) -> None:
    page = browser.new_page()
    try:
        page.goto(pages[name].as_uri())
        pdf = page.pdf(format="A4")
    finally:
        page.close()
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1000


def test_the_inzage_page_reads_in_words(browser: Any, pages: dict[str, Path]) -> None:
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto(pages["inzage"].as_uri())
        text = page.inner_text("body")
    finally:
        page.close()
    assert "meisje" in text
    assert "14 november 2026" in text
    assert "veldnaam" not in text
