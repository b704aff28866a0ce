"""The consent reader's pyarrow path reads exactly what the csv module's path reads."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.errors import SourceFormatError
from connectors.sources import consents
from connectors.sources.consents import read_consents

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
HEADERS = (
    "leerlingkey;schooljaar;categorie;waarde;gewijzigd_op",
    " Leerlingkey ;SCHOOLJAAR;categorie;waarde;gewijzigd_op;extra",
)

# Values as people and tools write them: case, stray spaces and tabs, ASCII controls that
# str.strip() removes, and now and then something only the csv module reads (a quote, an
# accent) so both paths meet in one property.
_PLAIN = list("aB1-: \t\x1f\x0bJaNEe")
_CELL = st.text(alphabet=st.sampled_from(_PLAIN), max_size=6)
_ODD_CELL = st.text(alphabet=st.sampled_from([*_PLAIN, '"', "é"]), max_size=6)


@st.composite
def exports(draw: st.DrawFn) -> bytes:
    header = draw(st.sampled_from(HEADERS))
    separator = draw(st.sampled_from([";", ","]))
    width = header.count(";") + 1
    cell = draw(st.sampled_from([_CELL, _CELL, _CELL, _ODD_CELL]))
    lines = [header.replace(";", separator)]
    for _ in range(draw(st.integers(0, 8))):
        kind = draw(st.sampled_from(["row", "row", "row", "blank", "spaces", "short"]))
        if kind == "blank":
            lines.append("")
        elif kind == "spaces":
            lines.append(separator.join(" " for _ in range(width)))
        else:
            cells = draw(st.lists(cell, min_size=width, max_size=width))
            cells = [c.replace(separator, "") for c in cells]
            lines.append(separator.join(cells[: width - 1] if kind == "short" else cells))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    last = draw(st.sampled_from(["", ending]))
    bom = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    return bom + (ending.join(lines) + last).encode("utf-8")


def _read(data: bytes, *, plain: bool, monkeypatch: pytest.MonkeyPatch) -> pd.DataFrame | str:
    """The frame read, or the error's message (the same refusal either way)."""
    with tempfile.TemporaryDirectory() as folder, monkeypatch.context() as patch:
        path = Path(folder) / "toestemmingen.csv"
        path.write_bytes(data)
        if not plain:
            patch.setattr(consents, "_read_plain", lambda *_: None)
        try:
            frame = read_consents(path)
        except SourceFormatError as exc:
            return str(exc).replace(folder, "")
        frame["source_file"] = frame["source_file"].str.replace(folder, "", regex=False)
        return frame


@settings(max_examples=150, deadline=None)
@given(data=exports())
def test_both_ways_of_reading_give_the_same_frame(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        fast = _read(data, plain=True, monkeypatch=monkeypatch)
        slow = _read(data, plain=False, monkeypatch=monkeypatch)
    if isinstance(fast, str) or isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast, slow)


@pytest.mark.parametrize("school", ["27ZX", "53NC"])
def test_a_plain_export_is_read_by_pyarrow(school: str, monkeypatch: pytest.MonkeyPatch) -> None:
    taken: list[bool] = []
    plain = consents._read_plain

    def spy(*args: object) -> object:
        frame = plain(*args)  # type: ignore[arg-type]
        taken.append(frame is not None)
        return frame

    monkeypatch.setattr(consents, "_read_plain", spy)
    frame = read_consents(SAMPLES / school / "toestemmingen.csv")
    assert taken == [True]
    assert len(frame) > 0


def test_a_short_row_still_gets_its_line_number_in_the_csv_way(tmp_path: Path) -> None:
    path = tmp_path / "toestemmingen.csv"
    path.write_text(
        "leerlingkey;schooljaar;categorie;waarde;gewijzigd_op\n\nL1;2026-2027;x\nL2;2026-2027;x;Ja;t\n"
    )
    frame = read_consents(path)
    assert frame["source_line"].tolist() == [3, 4]
    assert frame["waarde"].tolist()[1] == "ja"
    assert pd.isna(frame["waarde"].tolist()[0])
