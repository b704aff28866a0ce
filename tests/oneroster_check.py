"""One checker for every OneRoster 1.2 CSV package the tests produce, and the strict validator.

`check_package` reads a package written by Sluis (zip bytes) the way a strict importer
would and fails the test, naming file, row and column, when:

- manifest and files disagree: a declared file missing, a file in the zip that the manifest
  does not declare (or declares absent), a `file.<name>` key missing or doubled;
- a declared file has no data rows (the strict validator's `table.missing_data_rows`);
- a header is not the spec's, in order and case (metadata.* columns only after it);
- a lifecycle column breaks bulk (blank) or delta (status and dateLastModified) rules;
- a required value is blank, or a sourcedId is used twice in one file;
- a reference does not resolve inside the package (every row, tobedeleted ones too, as the
  validator's referenceMode "allRows" has it), or an active row points at a record the same
  package deletes.

`run_reference_validator` runs LongsightGroup's validator from ../shared/tools on packages
written to disk: skipped with the reason when node or the folder is absent, failed instead
when SLUIS_REQUIRE_REFERENCE=1.
"""

from __future__ import annotations

import csv
import io
import os
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors import oneroster_spec as spec

__all__ = ["Package", "check_package", "run_reference_validator"]

VALIDATOR = Path(__file__).resolve().parents[1].parent / "shared" / "tools" / "oneroster-validate"

HEADERS: Mapping[str, tuple[str, ...]] = {
    "academicSessions": spec.SESSIONS,
    "classes": spec.CLASSES,
    "courses": spec.COURSES,
    "demographics": spec.DEMOGRAPHICS,
    "enrollments": spec.ENROLLMENTS,
    "orgs": spec.ORGS,
    "roles": spec.ROLES,
    "users": spec.USERS_12,
}
# Columns the strict validator requires filled, on every row (tobedeleted ones too).
REQUIRED: Mapping[str, tuple[str, ...]] = {
    "orgs": ("sourcedId", "name", "type"),
    "academicSessions": ("sourcedId", "title", "type", "startDate", "endDate", "schoolYear"),
    "courses": ("sourcedId", "title", "orgSourcedId"),
    "classes": (
        "sourcedId",
        "title",
        "courseSourcedId",
        "classType",
        "schoolSourcedId",
        "termSourcedIds",
    ),
    "users": ("sourcedId", "enabledUser", "username", "givenName", "familyName"),
    "roles": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
    "enrollments": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "demographics": ("sourcedId",),
}
# (file, column) -> the file its sourcedIds (a comma list where marked) must be in.
REFERENCES: Mapping[tuple[str, str], str] = {
    ("orgs", "parentSourcedId"): "orgs",
    ("academicSessions", "parentSourcedId"): "academicSessions",
    ("courses", "schoolYearSourcedId"): "academicSessions",
    ("courses", "orgSourcedId"): "orgs",
    ("classes", "courseSourcedId"): "courses",
    ("classes", "schoolSourcedId"): "orgs",
    ("classes", "termSourcedIds"): "academicSessions",
    ("users", "primaryOrgSourcedId"): "orgs",
    ("roles", "userSourcedId"): "users",
    ("roles", "orgSourcedId"): "orgs",
    ("enrollments", "classSourcedId"): "classes",
    ("enrollments", "schoolSourcedId"): "orgs",
    ("enrollments", "userSourcedId"): "users",
    ("demographics", "sourcedId"): "users",
}
_LISTS = {("classes", "termSourcedIds")}
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
_MODES = ("absent", "bulk", "delta")


@dataclass(frozen=True)
class Package:
    """A checked package: its manifest and the rows of every file it holds."""

    manifest: dict[str, str]
    tables: dict[str, list[dict[str, str]]]

    @property
    def mode(self) -> str:
        """bulk or delta: the mode of the files it holds."""
        modes = {v for k, v in self.manifest.items() if k.startswith("file.") and v != "absent"}
        assert len(modes) == 1, f"one mode for every file, not {sorted(modes)}"
        return modes.pop()

    def rows(self, name: str) -> list[dict[str, str]]:
        """The rows of file `name`, none when it is absent."""
        return self.tables.get(name, [])

    def users(self, role: str) -> dict[str, dict[str, str]]:
        """users.csv rows of one role (student or teacher), by sourcedId."""
        of_role = {r["userSourcedId"] for r in self.rows("roles") if r["role"] == role}
        return {u["sourcedId"]: u for u in self.rows("users") if u["sourcedId"] in of_role}


def _read(data: bytes) -> tuple[list[str], list[dict[str, str]]]:
    assert not data.startswith(b"\xef\xbb\xbf"), "no byte order mark"
    text = data.decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    rows = [dict(zip(header, line, strict=True)) for line in reader]
    return header, rows


def check_package(content: bytes) -> Package:
    """Check one OneRoster zip as a strict importer would; return what it holds.

    Raises:
        AssertionError: naming the file, row (1 = first data row) and column at fault.
    """
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    assert all("/" not in name for name in entries), "files at the zip root"
    assert "manifest.csv" in entries, "manifest.csv is missing"
    header, lines = _read(entries.pop("manifest.csv"))
    assert header == ["propertyName", "value"], f"manifest header {header}"
    keys = [line["propertyName"] for line in lines]
    assert len(keys) == len(set(keys)), "a manifest key is listed twice"
    manifest = {line["propertyName"]: line["value"] for line in lines}
    assert manifest.get("manifest.version") == "1.0"
    assert manifest.get("oneroster.version") == "1.2"
    declared = {}
    for name in spec.FILES_12:
        mode = manifest.get(f"file.{name}")
        assert mode in _MODES, f"file.{name} is {mode!r}, not one of {_MODES}"
        if mode != "absent":
            declared[name] = mode
    assert len(set(declared.values())) <= 1, f"one mode for every file: {declared}"
    present = {name.removesuffix(".csv") for name in entries}
    assert all(name.endswith(".csv") for name in entries), sorted(entries)
    assert present == set(declared), (
        f"manifest and files disagree: declared {sorted(declared)}, in the zip {sorted(present)}"
    )
    tables: dict[str, list[dict[str, str]]] = {}
    for name, mode in declared.items():
        assert name in HEADERS, f"{name}.csv is not a file Sluis writes"
        file_header, rows = _read(entries[f"{name}.csv"])
        expected = list(HEADERS[name])
        assert file_header[: len(expected)] == expected, f"{name}.csv header order or case"
        extra = file_header[len(expected) :]
        assert all(column.startswith("metadata.") for column in extra), f"{name}.csv {extra}"
        assert rows, f"{name}.csv is declared {mode} but has no data rows"
        _check_rows(name, mode, rows)
        tables[name] = rows
    package = Package(manifest=manifest, tables=tables)
    _check_references(package)
    return package


def _check_rows(name: str, mode: str, rows: list[dict[str, str]]) -> None:
    ids = [row["sourcedId"] for row in rows]
    assert len(ids) == len(set(ids)), f"{name}.csv holds a sourcedId twice"
    for number, row in enumerate(rows, start=1):
        where = f"{name}.csv row {number}"
        if mode == "bulk":
            assert row["status"] == row["dateLastModified"] == "", f"{where}: lifecycle in bulk"
        else:
            assert row["status"] in (spec.ACTIVE, spec.TO_BE_DELETED), f"{where}: status"
            assert _DATE_TIME.fullmatch(row["dateLastModified"]), f"{where}: dateLastModified"
        for column in REQUIRED[name]:
            assert row[column].strip(), f"{where}: {column} is required"


def _ids(value: str, listed: bool) -> list[str]:
    if not value:
        return []
    return [item.strip() for item in value.split(",")] if listed else [value]


def _check_references(package: Package) -> None:
    status = {
        name: {row["sourcedId"]: row["status"] for row in rows}
        for name, rows in package.tables.items()
    }
    for (source, column), target in REFERENCES.items():
        for number, row in enumerate(package.rows(source), start=1):
            for value in _ids(row[column], (source, column) in _LISTS):
                where = f"{source}.csv row {number} {column}"
                assert target in status, f"{where}: points into {target}.csv, which is absent"
                assert value in status[target], f"{where}: no such record in {target}.csv"
                if row["status"] == spec.ACTIVE:
                    assert status[target][value] != spec.TO_BE_DELETED, (
                        f"{where}: an active row points at a record this package deletes"
                    )


def run_reference_validator(packages: Iterable[Path]) -> None:
    """Run the strict OneRoster validator on package files; fail with its diagnostics.

    Skips (fails with SLUIS_REQUIRE_REFERENCE=1) when node or the validator is absent.
    """
    node = shutil.which("node")
    script = VALIDATOR / "validate.mjs"
    if node is None or not script.is_file():
        reason = (
            f"the OneRoster reference validator needs node and {script}"
            f" (node {'found' if node else 'not found'}; the ../shared checkout beside the repo)"
        )
        if os.environ.get("SLUIS_REQUIRE_REFERENCE") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    paths = [str(path) for path in packages]
    assert paths, "no package to validate"
    result = subprocess.run(
        [node, str(script), *paths],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
