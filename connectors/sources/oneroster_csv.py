"""One OneRoster CSV file: its records and their lines, header checks and the parse."""

from __future__ import annotations

import csv
import difflib
import io
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from connectors.i18n import _, at_line, ngettext
from connectors.oneroster_spec import (
    TO_BE_DELETED,
)
from connectors.sources.oneroster_rules import (
    COMMA,
    CR,
    LF,
    LINE,
    METADATA_PREFIX,
    QUOTE,
    SPEC_HEADERS,
    reexport_fix,
    rule_error,
)


@dataclass(frozen=True)
class Records:
    """Where each CSV record sits in the bytes: numpy arrays, one entry per record."""

    starts: npt.NDArray[np.int64]  # byte offset of the record
    stops: npt.NDArray[np.int64]  # byte offset of its line break (or the end of the data)
    lines: npt.NDArray[np.int64]  # 1-based line the record starts on
    widths: npt.NDArray[np.int64]  # number of values (commas outside quotes + 1)
    blank: npt.NDArray[np.bool_]  # an empty line


def scan_records(body: bytes, label: str) -> Records:
    """Split bytes into CSV records the way pandas' C parser does, without a Python loop.

    A byte is inside a quoted value when an odd number of double quotes precede it (RFC
    4180 doubles quotes inside a value, which keeps the count even). A line break outside
    quotes ends a record: LF, CRLF or a lone CR, all three of which pandas accepts. Counts
    are taken only at line breaks and commas (binary search in the quote positions), so
    memory stays a few bytes per byte of the file, not eight.
    """
    data = np.frombuffer(body, dtype=np.uint8)
    size = data.size
    quotes = np.flatnonzero(data == QUOTE)
    lf = data == LF
    lone_cr = (data == CR) & ~np.append(lf[1:], False)
    breaks = np.flatnonzero(lf | lone_cr)
    if len(quotes) % 2:
        opened = int(quotes[-1])  # quotes pair up in order: the last one is never closed
        line = int(np.searchsorted(breaks, opened)) + 1
        raise rule_error(
            at_line(label, line),
            _("een waarde tussen aanhalingstekens wordt nooit afgesloten"),
            "quoting",
            _(
                "sluit het aanhalingsteken, of verdubbel een aanhalingsteken dat bij de "
                "waarde hoort"
            ),
        )
    ends = breaks[np.searchsorted(quotes, breaks) % 2 == 0].astype(np.int64)
    commas = np.flatnonzero(data == COMMA)
    commas = commas[np.searchsorted(quotes, commas) % 2 == 0]
    starts = np.concatenate(([0], ends + 1)).astype(np.int64)
    stops = np.append(ends, size).astype(np.int64)
    if starts[-1] >= size:  # the data ends with a line break: no record after it
        starts, stops = starts[:-1], stops[:-1]
    length = stops - starts
    first = data[np.minimum(starts, max(size - 1, 0))] if size else np.zeros(0, np.uint8)
    return Records(
        starts=starts,
        stops=stops,
        lines=(np.searchsorted(breaks, starts) + 1).astype(np.int64),
        widths=(np.searchsorted(commas, stops) - np.searchsorted(commas, starts) + 1).astype(
            np.int64
        ),
        blank=(length == 0) | ((length == 1) & (first == CR)),
    )


@dataclass
class CsvFile:
    """One CSV file of the package after the structural pass: header checked, not parsed."""

    name: str  # e.g. "users" (the manifest's file.<name>)
    label: str
    mode: str
    body: bytes  # without a byte order mark
    records: Records
    header: list[str]


@dataclass(frozen=True)
class Table:
    """One CSV file parsed: the kept columns as strings ("" when blank), plus LINE."""

    name: str
    label: str
    mode: str
    frame: pd.DataFrame

    def active(self) -> pd.DataFrame:
        """Rows not marked tobedeleted (in bulk: all rows)."""
        return self.frame.loc[self.frame["status"] != TO_BE_DELETED]

    def deleted(self) -> pd.DataFrame:
        """Rows marked tobedeleted (delta only)."""
        return self.frame.loc[self.frame["status"] == TO_BE_DELETED]

    def first(self, bad: pd.Series, problem: str, rule: str, fix: str) -> None:
        """Raise for the first row where `bad` holds, saying how many more there are."""
        if not bool(bad.any()):
            return
        lines = self.frame.loc[bad, LINE]
        more = len(lines) - 1
        if more:
            problem += " " + ngettext(
                "(en op {more} andere regel)", "(en op {more} andere regels)", more
            ).format(more=more)
        raise rule_error(at_line(self.label, int(lines.iloc[0])), problem, rule, fix)


def decode(body: bytes, label: str) -> None:
    """Refuse anything that is not UTF-8, naming the line of the first bad byte."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise rule_error(
            at_line(label, line),
            _("het bestand is geen UTF-8"),
            "encoding",
            _("sla het bestand op als UTF-8 (in Excel: CSV UTF-8)"),
        ) from None


def header_names(body: bytes, records: Records) -> list[str]:
    """Return the names in the file's first record, its header."""
    text = body[int(records.starts[0]) : int(records.stops[0])].decode("utf-8")
    return next(csv.reader([text.rstrip("\r")]), [])


def check_header(file: CsvFile, expected: tuple[str, ...], version: str) -> None:
    """Spec order and case; extra columns only at the end, as metadata.*, each once."""
    actual = file.header
    where = at_line(file.label, 1)
    for position, name in enumerate(expected, start=1):
        found = actual[position - 1] if position <= len(actual) else None
        if found == name:
            continue
        if found is None:
            problem = _("kolom {position} ({name}) ontbreekt").format(position=position, name=name)
        elif found.startswith(METADATA_PREFIX):
            raise rule_error(
                where,
                _("kolom {position} is {found} waar OneRoster {version} {name} heeft").format(
                    position=position, found=repr(found), version=version, name=repr(name)
                ),
                "metadata_column",
                _("zet de metadata-kolommen na de kolommen van de specificatie"),
            )
        else:
            problem = _("kolom {position} is {found} waar OneRoster {version} {name} heeft").format(
                position=position, found=_describe(found, name), version=version, name=repr(name)
            )
        other = _other_version(file.name, version)
        if other is not None and tuple(actual[: len(other)]) == other:
            fix = _(
                "dit is een kopregel van OneRoster {other}: zet oneroster.version in "
                "manifest.csv op die versie, of exporteer opnieuw"
            ).format(other=_OTHER[version])
        else:
            fix = _("{reexport}, of verbeter de kopregel").format(reexport=reexport_fix())
        raise rule_error(where, problem, "header", fix)
    extra = actual[len(expected) :]
    seen: set[str] = set()
    for position, name in enumerate(extra, start=len(expected) + 1):
        if not name.startswith(METADATA_PREFIX) or len(name) == len(METADATA_PREFIX):
            raise rule_error(
                where,
                _("kolom {position} is {found} na de kolommen van de specificatie").format(
                    position=position, found=_describe(name, None)
                ),
                "metadata_column",
                _("noem extra kolommen metadata.<iets>, of laat ze weg"),
            )
        if name in seen:
            raise rule_error(
                where,
                _("kolom {position} ({name}) staat er twee keer").format(
                    position=position, name=repr(name)
                ),
                "metadata_column",
                _("geef elke metadata-kolom een eigen naam"),
            )
        seen.add(name)


_OTHER = {"1.1": "1.2", "1.2": "1.1"}
_SPEC_NAMES = frozenset(
    name.lower()
    for version in SPEC_HEADERS.values()
    for header in version.values()
    for name in header
)


def _other_version(name: str, version: str) -> tuple[str, ...] | None:
    header = SPEC_HEADERS[_OTHER[version]].get(name)
    return header if header != SPEC_HEADERS[version].get(name) else None


def _describe(found: str, expected: str | None) -> str:
    """Quote a header cell only when it is clearly a column name, never possibly a value.

    Without a header line, the first row of pupils sits where the header belongs; its
    cells must not reach a message. A cell is quoted when it is a OneRoster column name
    (in any case) or a near miss of the expected one (a typo such as prefferedGivenName).
    """
    if not found:
        return _("naamloos")
    close = expected is not None and difflib.SequenceMatcher(None, found, expected).ratio() >= 0.8
    if found.lower() in _SPEC_NAMES or found.startswith(METADATA_PREFIX) or close:
        return repr(found)
    return _("geen OneRoster-kolomnaam")


def check_width(file: CsvFile) -> None:
    """Every line as many values as the header: a shifted value lands in the wrong column."""
    records = file.records
    width = len(file.header)
    data_lines = records.lines[1:]
    wrong = (records.widths[1:] != width) & ~records.blank[1:]
    if wrong.any():
        index = int(np.flatnonzero(wrong)[0])
        more = int(wrong.sum()) - 1
        problem = _("de regel heeft {found} waarden waar de kopregel er {width} heeft").format(
            found=int(records.widths[1:][index]), width=width
        )
        if more:
            problem += " " + ngettext(
                "(en op {more} andere regel)", "(en op {more} andere regels)", more
            ).format(more=more)
        raise rule_error(
            at_line(file.label, int(data_lines[index])),
            problem,
            "row_width",
            _(
                "zoek een ontbrekende of extra komma, of een waarde met een komma die niet tussen "
                "aanhalingstekens staat"
            ),
        )


def parse_table(file: CsvFile, keep: tuple[str, ...]) -> Table:
    """Parse the rows of a structurally checked file: one pandas call, lines from numpy."""
    check_width(file)
    records = file.records
    data_lines = records.lines[1:]
    data_blank = records.blank[1:]
    start = int(records.starts[1]) if len(records.starts) > 1 else len(file.body)
    wanted = [name for name in keep if name in file.header]
    frame = pd.read_csv(
        io.BytesIO(file.body[start:]),
        header=None,
        names=file.header,
        usecols=wanted,
        dtype=str,
        keep_default_na=False,
        na_filter=False,
        skip_blank_lines=False,
        index_col=False,
        encoding="utf-8",
        engine="c",
    )
    if len(frame) != len(data_lines):
        # Only a quote in the middle of an unquoted value makes pandas and the scan differ.
        raise rule_error(
            file.label,
            _("de regels zijn niet van elkaar te onderscheiden"),
            "quoting",
            _(
                "zet elke waarde met een dubbel aanhalingsteken tussen aanhalingstekens, en "
                "verdubbel het aanhalingsteken erin"
            ),
        )
    frame[LINE] = data_lines
    values = frame[wanted]
    empty = data_blank | (values == "").all(axis=1).to_numpy()
    frame = frame.loc[~empty].reset_index(drop=True)
    for name in keep:
        if name not in frame:
            frame[name] = ""  # a column the other version does not have
    return Table(name=file.name, label=file.label, mode=file.mode, frame=frame)
