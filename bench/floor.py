"""The I/O floor: read the inputs and write the same outputs with lxml and pyarrow, no policy.

Read: an lxml parse of every export (the parser options Sluis uses for untrusted XML) and a
pyarrow read of every consent export. Write: every file of every delivery a run published,
in every format the run writes, rebuilt from its own contents and written again:

- CSV (`.csv`): pyarrow `write_csv` of the file's table, with its separator;
- Parquet (`.parquet`): pyarrow `write_table`, zstd level 3 as Sluis writes it;
- OneRoster (`.zip`): pyarrow `write_csv` of each table in the package, deflated into a
  zip at level 6 as Sluis packs it;
- EDEXML (`.xml`): the element tree built again with lxml from the file's tags, attributes
  and texts (one SubElement per element, as any lxml writer does), then serialised
  (pretty printed, with declaration) as Sluis does; the two steps are timed apart, so the
  serialisation alone can be read as a lower bound for XML;
- `manifest.json`: `json.dumps` of the manifest.

Only the reading and the writing are timed; decoding the published files into tables and
trees beforehand is not. Each delivery is written once: the archive copy Sluis keeps for
re-delivery is Sluis' own cost, not the floor's. A file of another kind stops the floor
(it must never quietly leave a format out).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from lxml import etree

_ZIP_LEVEL = 6
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# The options Sluis' EDEXML reader uses for untrusted XML.
_PARSER = {"resolve_entities": False, "no_network": True, "load_dtd": False, "huge_tree": False}

Node = tuple[str, dict[str, str], str | None, list[Any]]


class Clock:
    """CPU (user + system, all threads) and wall seconds, summed per label."""

    def __init__(self) -> None:
        self.cpu: dict[str, float] = defaultdict(float)
        self.wall: dict[str, float] = defaultdict(float)
        self.files: dict[str, int] = defaultdict(int)

    @contextmanager
    def timing(self, label: str) -> Iterator[None]:
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            yield
        finally:
            self.cpu[label] += time.process_time() - cpu
            self.wall[label] += time.perf_counter() - wall
            self.files[label] += 1


def read_inputs(source: Path, clock: Clock, exports: str = "*/EDEX.XML") -> int:
    """Parse every export and read every consent file; returns the number of files."""
    parser = etree.XMLParser(**_PARSER)
    count = 0
    for export in sorted(source.glob(exports)):
        with clock.timing("read: EDEXML parse"):
            etree.parse(str(export), parser)
        count += 1
    options = pacsv.ParseOptions(delimiter=";")
    for consents in sorted(source.glob("*/toestemmingen.csv")):
        with clock.timing("read: consents"):
            pacsv.read_csv(consents, parse_options=options)
        count += 1
    return count


def _text_table(data: bytes, delimiter: str) -> pa.Table:
    """Every column as text, as the delivered file holds it."""
    header = next(pacsv.open_csv(io.BytesIO(data), parse_options=_options(delimiter))).schema
    types = {name: pa.string() for name in header.names}
    return pacsv.read_csv(
        io.BytesIO(data),
        parse_options=_options(delimiter),
        convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True),
    )


def _options(delimiter: str) -> pacsv.ParseOptions:
    return pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True)


def _delimiter(data: bytes) -> str:
    first = data.split(b"\n", 1)[0]
    return ";" if first.count(b";") > first.count(b",") else ","


def _freeze(element: etree._Element) -> Node:
    children = [_freeze(child) for child in element]
    return (element.tag, dict(element.attrib), None if children else element.text, children)


def _build(parent: etree._Element, node: Node) -> None:
    tag, attrib, text, children = node
    element = etree.SubElement(parent, tag, attrib)
    if text is not None:
        element.text = text
    for child in children:
        _build(element, child)


def _write_edexml(root: etree._Element, target: Path) -> list[tuple[str, Callable[[], None]]]:
    """Two timed steps: build the element tree from its values, then serialise and write."""
    nsmap = dict(root.nsmap)
    tag, attrib, _, children = _freeze(root)
    built: list[etree._Element] = []

    def build() -> None:
        rebuilt = etree.Element(tag, attrib, nsmap=nsmap)
        for child in children:
            _build(rebuilt, child)
        built.append(rebuilt)

    def write() -> None:
        content = etree.tostring(
            built.pop(), xml_declaration=True, encoding="UTF-8", pretty_print=True
        )
        target.write_bytes(content)

    return [("write: EDEXML, build tree", build), ("write: EDEXML, serialise", write)]


def _write_csv(data: bytes, target: Path) -> Callable[[], None]:
    delimiter = _delimiter(data)
    table = _text_table(data, delimiter)
    return lambda: pacsv.write_csv(table, target, pacsv.WriteOptions(delimiter=delimiter))


def _write_parquet(path: Path, target: Path) -> Callable[[], None]:
    table = pq.read_table(path)
    return lambda: pq.write_table(table, target, compression="zstd", compression_level=3)


def _write_zip(path: Path, target: Path) -> Callable[[], None]:
    with zipfile.ZipFile(path) as archive:
        tables = [(name, _text_table(archive.read(name), ",")) for name in archive.namelist()]

    def write() -> None:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, table in tables:
                sink = io.BytesIO()
                pacsv.write_csv(table, sink)
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, sink.getvalue(), compresslevel=_ZIP_LEVEL)
        target.write_bytes(buffer.getvalue())

    return write


def _write_manifest(path: Path, target: Path) -> Callable[[], None]:
    manifest = json.loads(path.read_bytes())
    return lambda: target.write_text(json.dumps(manifest, indent=2, sort_keys=True), "utf-8")


def _writer(path: Path, target: Path) -> list[tuple[str, Callable[[], None]]]:
    """The timed steps writing one published file, prepared from its contents (not timed)."""
    if path.name == "manifest.json":
        return [("write: manifest.json", _write_manifest(path, target))]
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return [("write: CSV", _write_csv(path.read_bytes(), target))]
    if suffix == ".parquet":
        return [("write: Parquet", _write_parquet(path, target))]
    if suffix == ".zip":
        return [("write: OneRoster zip", _write_zip(path, target))]
    if suffix == ".xml":
        root = etree.parse(str(path), etree.XMLParser(**_PARSER)).getroot()
        return _write_edexml(root, target)
    raise SystemExit(f"floor: no floor writer for {path.name}; add one rather than skip it")


def write_outputs(drop: Path, scratch: Path, clock: Clock) -> int:
    """Write every published file again, one delivery at a time; returns the file count."""
    count = 0
    for delivery in sorted(p for p in drop.glob("*/*") if (p / "manifest.json").is_file()):
        folder = scratch / delivery.parent.name / delivery.name
        folder.mkdir(parents=True)
        for path in sorted(delivery.iterdir()):
            for label, step in _writer(path, folder / path.name):
                with clock.timing(label):
                    step()
            count += 1
    return count
