"""A wrong SLUIS_OPENLINEAGE_URL is a setting error in Dutch, before any run starts.

It used to pass the settings and fail inside the flow, as a ValueError traceback in
English, after the run's lineage record was opened.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sluis_cli import sluis_in_process as sluis

from connectors.errors import ConfigurationError
from pipelines.settings import Settings

REPO = Path(__file__).resolve().parents[2]
TOKEN = "geheim-token-8812"


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.delenv("SLUIS_OPENLINEAGE_URL", raising=False)


@pytest.mark.parametrize(
    "url",
    [f"marquez:5000/{TOKEN}", f"ftp://marquez/{TOKEN}", f"http:///{TOKEN}", TOKEN],
)
def test_an_address_that_is_no_http_url_is_refused_without_repeating_it(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("SLUIS_OPENLINEAGE_URL", url)
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    message = str(caught.value)
    assert message.startswith("instelling SLUIS_OPENLINEAGE_URL: moet een http(s)-adres")
    assert TOKEN not in message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


@pytest.mark.parametrize("url", ["http://marquez:5000", "https://lineage.zinder.nl/api"])
def test_an_http_address_is_kept_as_a_secret(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("SLUIS_OPENLINEAGE_URL", url)
    settings = Settings()
    assert settings.openlineage_url is not None
    assert settings.openlineage_url.get_secret_value() == url
    assert url not in repr(settings)


def test_sluis_run_stops_on_it_in_one_line_before_anything_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SLUIS_OPENLINEAGE_URL", f"marquez:5000/{TOKEN}")
    code, out, err = sluis(
        "run",
        "--source",
        str(REPO / "data" / "samples"),
        "--drop",
        str(tmp_path / "drop"),
        "--state",
        str(tmp_path / "state"),
    )
    assert code != 0
    assert "Traceback" not in out + err
    assert TOKEN not in out + err
    assert "SLUIS_OPENLINEAGE_URL" in err
    assert not (tmp_path / "drop").exists()
    assert not (tmp_path / "state" / "lineage.db").exists()
