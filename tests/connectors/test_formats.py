"""Output formats: CSV and Parquet bytes, the format registry and DataFile."""

from __future__ import annotations

import datetime as dt
import hashlib
import io

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import DataFile
from connectors.formats.csv import CsvFormat
from connectors.formats.parquet import ParquetFormat
from connectors.formats.registry import get_format, known_formats


def _render_csv(frame: pd.DataFrame, **options: str) -> bytes:
    files = CsvFormat().render(frame, basename="leerlingen", options=options)
    assert len(files) == 1
    return files[0].content


def _read_csv(content: bytes, separator: str = ";") -> pd.DataFrame:
    return pd.read_csv(
        io.BytesIO(content), sep=separator, dtype=str, keep_default_na=False, encoding="utf-8"
    )


@pytest.fixture
def pupils() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "leerlingkey": ["1001", "1002", "1003"],
            "roepnaam": ["Zoë", "Ümit", "Anne-Fleur"],
            "achternaam": ["de Vries", None, "Jansen; Bakker"],
            "jaargroep": pd.array([3, 8, None], dtype="Int64"),
            "geboortedatum": pd.to_datetime(["2018-02-01", "2013-11-30", None]),
        }
    )


# --- CSV ----------------------------------------------------------------------------------


def test_csv_writes_exact_bytes_for_a_small_frame(pupils: pd.DataFrame) -> None:
    expected = (
        "leerlingkey;roepnaam;achternaam;jaargroep;geboortedatum\n"
        "1001;Zoë;de Vries;3;2018-02-01\n"
        "1002;Ümit;;8;2013-11-30\n"
        '1003;Anne-Fleur;"Jansen; Bakker";;\n'
    ).encode()
    assert _render_csv(pupils) == expected


def test_csv_file_is_named_after_the_basename_and_counts_rows(pupils: pd.DataFrame) -> None:
    [data_file] = CsvFormat().render(pupils, basename="acme-leerlingen", options={})
    assert data_file.name == "acme-leerlingen.csv"
    assert data_file.rows == 3
    assert data_file.sha256 == hashlib.sha256(data_file.content).hexdigest()


def test_csv_is_utf8_without_bom_and_keeps_diacritics(pupils: pd.DataFrame) -> None:
    content = _render_csv(pupils)
    assert not content.startswith(b"\xef\xbb\xbf")
    assert "Zoë".encode() in content
    assert "Ümit".encode() in content
    assert list(_read_csv(content)["roepnaam"]) == ["Zoë", "Ümit", "Anne-Fleur"]


def test_csv_ends_every_line_with_a_line_feed_only(pupils: pd.DataFrame) -> None:
    content = _render_csv(pupils)
    assert b"\r" not in content
    assert content.endswith(b"\n")
    assert content.count(b"\n") == 1 + len(pupils)


@pytest.mark.parametrize("separator", [";", ",", "\t", "|"])
def test_csv_quotes_a_cell_only_when_it_holds_the_separator_a_quote_or_a_line_break(
    separator: str,
) -> None:
    others = "".join(s for s in (";", ",", "\t", "|") if s != separator)
    # "x" + others is deliberately not a formula: a leading tab would be neutralised.
    values = ["plain", f"a{separator}b", 'say "hi"', "two\nlines", "carriage\rreturn", "x" + others]
    frame = pd.DataFrame({"waarde": values, "n": range(len(values))})
    lines = _render_csv(frame, separator=separator).decode().split("\n")
    # A quoted line break keeps a cell whole, so split lines are only checked by prefix.
    assert lines[1] == f"plain{separator}0"
    assert lines[2] == f'"a{separator}b"{separator}1'
    assert lines[3] == f'"say ""hi"""{separator}2'
    assert lines[4] == '"two'
    assert lines[5] == f'lines"{separator}3'
    assert lines[6] == f'"carriage\rreturn"{separator}4'
    assert lines[7] == f"x{others}{separator}5"


@pytest.mark.parametrize("separator", ["", ":", ";;", "tab", " "])
def test_csv_refuses_a_separator_that_is_not_allowed_and_lists_the_allowed_ones(
    pupils: pd.DataFrame, separator: str
) -> None:
    with pytest.raises(ConfigurationError, match="toegestane scheidingstekens") as caught:
        _render_csv(pupils, separator=separator)
    for allowed in ("';'", "','", "'\\t'", "'|'"):
        assert allowed in str(caught.value)


def test_csv_refuses_an_unknown_option_so_typos_are_not_ignored(pupils: pd.DataFrame) -> None:
    with pytest.raises(ConfigurationError, match=r"'seperator'.*bekende opties: separator"):
        _render_csv(pupils, seperator=",")


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x.test","klik")', '\'=HYPERLINK("http://x.test","klik")'),
        ("-5", "'-5"),
        ("+31612345678", "'+31612345678"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1+1", "'\t=1+1"),
        ("\r=1+1", "'\r=1+1"),
        ("Anne-Fleur", "Anne-Fleur"),
        ("a=b", "a=b"),
        ("'al gequote", "'al gequote"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_csv_prefixes_a_quote_to_text_cells_a_spreadsheet_would_run_as_a_formula(
    value: str, written: str
) -> None:
    frame = pd.DataFrame({"roepnaam": [value], "n": [1]})
    assert _read_csv(_render_csv(frame))["roepnaam"].tolist() == [written]


def test_csv_neutralises_object_and_categorical_text_columns_too() -> None:
    frame = pd.DataFrame(
        {
            "o": pd.Series(["=1+1", "ok"], dtype=object),
            "c": pd.Categorical(["-2", "ok"]),
        }
    )
    assert _read_csv(_render_csv(frame)).to_dict("list") == {
        "o": ["'=1+1", "ok"],
        "c": ["'-2", "ok"],
    }


def test_csv_neutralises_a_header_name_that_starts_like_a_formula() -> None:
    frame = pd.DataFrame({"=cmd": ["x"], "n": [1]})
    assert _render_csv(frame).split(b"\n")[0] == b"'=cmd;n"


def test_csv_leaves_negative_numbers_in_numeric_columns_alone() -> None:
    frame = pd.DataFrame({"i": pd.array([-5, None], dtype="Int64"), "f": [-1.5, 2.0]})
    assert _render_csv(frame) == b"i;f\n-5;-1.5\n;2.0\n"


def test_csv_neutralises_text_columns_next_to_numeric_ones_only_in_the_text_columns() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.Series(["-5", "=1", None], dtype="str"),
            "i": pd.array([-5, None, 1], dtype="Int64"),
            "o": pd.Series(["+31", "ok", None], dtype=object),
            "f": [-1.5, 2.0, float("nan")],
        }
    )
    assert _render_csv(frame) == b"s;i;o;f\n'-5;-5;'+31;-1.5\n'=1;;ok;2.0\n;1;;\n"


def test_csv_writes_sliced_and_concatenated_frames_like_fresh_ones() -> None:
    # Slices and concatenations hold Arrow arrays with an offset or several chunks.
    part = pd.DataFrame({"a": pd.Series(["=x", None, "b;c", 'q"'], dtype="str"), "n": range(4)})
    joined = pd.concat([part, part.iloc[1:3]], ignore_index=True)
    fresh = pd.DataFrame({column: joined[column].tolist() for column in joined}).astype(
        {"a": "str"}
    )
    assert _render_csv(joined) == _render_csv(fresh)
    assert _render_csv(part.iloc[1:3]) == b'a;n\n;1\n"b;c";2\n'


def test_csv_writes_missing_values_as_empty_cells() -> None:
    frame = pd.DataFrame(
        {
            "s": pd.Series(["a", None, "c"], dtype="str"),
            "o": pd.Series([None, "b", float("nan")], dtype=object),
            "i": pd.array([None, 2, 3], dtype="Int64"),
            "f": [1.0, float("nan"), 3.0],
        }
    )
    assert _render_csv(frame) == b"s;o;i;f\na;;;1.0\n;b;2;\nc;;3;3.0\n"


def test_csv_writes_every_kind_of_date_as_yyyy_mm_dd() -> None:
    frame = pd.DataFrame(
        {
            "numpy_date": pd.to_datetime(["2015-03-01", None]),
            "with_time": pd.to_datetime(["2015-03-01T23:15:00", "2016-01-02T00:00:01"]),
            "with_zone": pd.to_datetime(["2015-03-01T10:00:00", None]).tz_localize(
                "Europe/Amsterdam"
            ),
            "python_date": pd.Series([dt.date(2015, 3, 1), None], dtype=object),
            "python_datetime": pd.Series([dt.datetime(2015, 3, 1, 8, 30), None], dtype=object),
            "arrow_date": pd.Series([dt.date(2015, 3, 1), None], dtype=pd.ArrowDtype(pa.date32())),
        }
    )
    assert _render_csv(frame).decode().split("\n")[1:] == [
        "2015-03-01;2015-03-01;2015-03-01;2015-03-01;2015-03-01;2015-03-01",
        ";2016-01-02;;;;",
        "",
    ]


def test_csv_single_column_missing_value_is_written_so_the_row_is_not_lost() -> None:
    frame = pd.DataFrame({"roepnaam": ["Zoë", None, "Ümit"]})
    content = _render_csv(frame)
    assert content == 'roepnaam\nZoë\n""\nÜmit\n'.encode()
    assert len(_read_csv(content)) == 3


def test_csv_empty_frame_is_a_header_only() -> None:
    frame = pd.DataFrame({"a": pd.Series([], dtype="str"), "b": pd.Series([], dtype="Int64")})
    [data_file] = CsvFormat().render(frame, basename="leeg", options={})
    assert data_file.content == b"a;b\n"
    assert data_file.rows == 0


def test_csv_ignores_the_index(pupils: pd.DataFrame) -> None:
    shuffled_index = pupils.set_axis([7, 7, 3])
    assert _render_csv(shuffled_index) == _render_csv(pupils)


def test_csv_gives_the_same_bytes_for_the_same_frame_and_does_not_mutate_it(
    pupils: pd.DataFrame,
) -> None:
    pupils.loc[0, "roepnaam"] = "=formule"
    before = pupils.copy(deep=True)
    first = _render_csv(pupils)
    second = _render_csv(pupils.copy(deep=True))
    assert first == second
    pd.testing.assert_frame_equal(pupils, before)


_TEXT = st.text(alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"))


@given(
    values=st.lists(st.tuples(_TEXT, _TEXT), min_size=1, max_size=8),
    separator=st.sampled_from([";", ",", "\t", "|"]),
)
def test_csv_round_trips_any_text_through_pandas_read_csv_with_only_formulas_changed(
    values: list[tuple[str, str]], separator: str
) -> None:
    frame = pd.DataFrame(values, columns=["a", "b"], dtype="str")
    read = _read_csv(_render_csv(frame, separator=separator), separator=separator)

    def neutralised(text: str) -> str:
        return "'" + text if text[:1] in {"=", "+", "-", "@", "\t", "\r"} else text

    assert read.columns.tolist() == ["a", "b"]
    assert read.values.tolist() == [[neutralised(a), neutralised(b)] for a, b in values]


def test_csv_refuses_a_lone_surrogate_without_quoting_it() -> None:
    frame = pd.DataFrame({"roepnaam": pd.Series(["Zo\ud800"], dtype=object)})
    with pytest.raises(InputError, match="geen geldige Unicode") as caught:
        _render_csv(frame)
    assert "Zo" not in str(caught.value)


# --- both formats ----------------------------------------------------------------------


@pytest.mark.parametrize("format_", [CsvFormat(), ParquetFormat()], ids=["csv", "parquet"])
@pytest.mark.parametrize("basename", ["../leerlingen", "a/b", ".verborgen", "", "x\n", "a b"])
def test_formats_refuse_a_basename_that_is_not_a_plain_file_name(
    format_: CsvFormat | ParquetFormat, basename: str, pupils: pd.DataFrame
) -> None:
    with pytest.raises(ConfigurationError, match="niet toegestaan"):
        format_.render(pupils, basename=basename, options={})


@pytest.mark.parametrize("format_", [CsvFormat(), ParquetFormat()], ids=["csv", "parquet"])
def test_formats_refuse_a_frame_with_a_column_twice(format_: CsvFormat | ParquetFormat) -> None:
    frame = pd.DataFrame([["a", "b"]], columns=["roepnaam", "roepnaam"])
    with pytest.raises(ConfigurationError, match="meer dan eens voor: roepnaam"):
        format_.render(frame, basename="x", options={})


@pytest.mark.parametrize("format_", [CsvFormat(), ParquetFormat()], ids=["csv", "parquet"])
def test_formats_refuse_a_frame_without_columns(format_: CsvFormat | ParquetFormat) -> None:
    with pytest.raises(ConfigurationError, match="geen kolommen"):
        format_.render(pd.DataFrame(), basename="x", options={})


# --- Parquet ----------------------------------------------------------------------------


@pytest.fixture
def typed_pupils() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "leerlingkey": pd.Series(["1001", "1002", None], dtype="str"),
            "roepnaam": pd.Series(["Zoë", "Ümit", "=formule"], dtype="str"),
            "jaargroep": pd.array([3, None, 8], dtype="Int64"),
            "gewicht": [1.0, 0.3, float("nan")],
            "vertrokken": [True, False, True],
            "geboortedatum": pd.to_datetime(["2018-02-01", None, "2013-11-30"]).astype(
                "datetime64[us]"
            ),
        }
    )


def test_parquet_round_trips_values_and_dtypes(typed_pupils: pd.DataFrame) -> None:
    [data_file] = ParquetFormat().render(typed_pupils, basename="leerlingen", options={})
    assert data_file.name == "leerlingen.parquet"
    assert data_file.rows == 3
    read = pd.read_parquet(io.BytesIO(data_file.content))
    pd.testing.assert_frame_equal(read, typed_pupils)


def test_parquet_does_not_write_the_index(typed_pupils: pd.DataFrame) -> None:
    [data_file] = ParquetFormat().render(typed_pupils.set_axis([9, 8, 7]), basename="x", options={})
    assert pq.read_schema(io.BytesIO(data_file.content)).names == list(typed_pupils.columns)


def test_parquet_is_zstd_compressed(typed_pupils: pd.DataFrame) -> None:
    [data_file] = ParquetFormat().render(typed_pupils, basename="x", options={})
    metadata = pq.ParquetFile(io.BytesIO(data_file.content)).metadata
    compressions = {
        metadata.row_group(0).column(i).compression for i in range(metadata.num_columns)
    }
    assert compressions == {"ZSTD"}


def test_parquet_gives_the_same_bytes_for_the_same_frame_and_does_not_mutate_it(
    typed_pupils: pd.DataFrame,
) -> None:
    before = typed_pupils.copy(deep=True)
    first = ParquetFormat().render(typed_pupils, basename="x", options={})[0]
    second = ParquetFormat().render(typed_pupils.copy(deep=True), basename="x", options={})[0]
    assert first.content == second.content
    assert first.sha256 == second.sha256
    pd.testing.assert_frame_equal(typed_pupils, before)


def test_parquet_refuses_options(typed_pupils: pd.DataFrame) -> None:
    with pytest.raises(ConfigurationError, match=r"'separator'.*bekende opties: geen"):
        ParquetFormat().render(typed_pupils, basename="x", options={"separator": ";"})


def test_parquet_names_a_mixed_type_column_without_quoting_its_values() -> None:
    frame = pd.DataFrame({"ok": ["a", "b"], "mixed": pd.Series(["Zoë-geheim", 5], dtype=object)})
    with pytest.raises(InputError, match="'mixed'") as caught:
        ParquetFormat().render(frame, basename="x", options={})
    assert "Zoë-geheim" not in str(caught.value)
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_parquet_empty_frame_has_zero_rows() -> None:
    frame = pd.DataFrame({"a": pd.Series([], dtype="str")})
    [data_file] = ParquetFormat().render(frame, basename="leeg", options={})
    assert data_file.rows == 0
    assert pq.read_table(io.BytesIO(data_file.content)).num_rows == 0


# --- registry and DataFile -------------------------------------------------------------


def test_registry_returns_the_csv_and_parquet_writers() -> None:
    assert isinstance(get_format("csv"), CsvFormat)
    assert isinstance(get_format("parquet"), ParquetFormat)
    assert known_formats() == ("aggregaat", "csv", "edexml", "oneroster", "parquet")


def test_registry_names_the_known_formats_for_an_unknown_one() -> None:
    with pytest.raises(
        ConfigurationError,
        match=r"^onbekend uitvoerformaat 'xml'; bekende formaten: "
        r"aggregaat, csv, edexml, oneroster, parquet$",
    ):
        get_format("xml")


def test_data_file_hash_is_the_sha256_of_its_content() -> None:
    data_file = DataFile(name="a.csv", content=b"x;y\n", rows=0)
    assert data_file.sha256 == hashlib.sha256(b"x;y\n").hexdigest()


@pytest.mark.parametrize("rows", [-1, True, 1.0])
def test_data_file_refuses_a_row_count_that_is_not_a_whole_number(rows: object) -> None:
    with pytest.raises(ConfigurationError, match="rows"):
        DataFile(name="a.csv", content=b"", rows=rows)  # type: ignore[arg-type]
