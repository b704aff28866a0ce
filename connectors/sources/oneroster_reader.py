"""One read of a OneRoster package: manifest, structure, rows, school, then the frames."""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectors.i18n import _, at_line
from connectors.identifiers import canonical_brin
from connectors.oneroster_spec import (
    ACTIVE,
    MANIFEST_FILES,
    TO_BE_DELETED,
)
from connectors.sources.base import (
    SCHOOL_FIELDS,
    SchoolExport,
)
from connectors.sources.oneroster_csv import (
    CsvFile,
    Records,
    Table,
    check_header,
    check_width,
    decode,
    header_names,
    parse_table,
    scan_records,
)
from connectors.sources.oneroster_package import Package
from connectors.sources.oneroster_people import People
from connectors.sources.oneroster_rules import (
    ABSENT,
    BULK,
    DATE_TIME,
    DELTA,
    FORMAT,
    HOMEROOM,
    KEEP,
    LINE,
    MANIFEST,
    MODES,
    NEEDED,
    REQUIRED,
    SCHEDULED,
    SPEC_HEADERS,
    VERSIONS,
    reexport_fix,
    rule_error,
)
from connectors.sources.oneroster_values import (
    isin,
    property_name,
    school_year_by_column,
    school_year_by_dates,
    strip_bom,
)


class OneRosterReader:
    """One read of one package: manifest, structure, rows, then the frames."""

    def __init__(self, package: Package) -> None:
        self.package = package
        self.notes: list[str] = []

    def read(self) -> SchoolExport:
        """Read the whole package into the school's export, or raise on its first problem."""
        version, modes, mode_lines = self._manifest()
        self._check_listed(version, modes, mode_lines)
        files = self._structure(version, modes)
        tables = {name: self._rows(file, version) for name, file in files.items()}
        school, school_line = self._school(tables)
        pupils, teachers, groups = People(str(self.package.path), self.notes).read(tables, version)
        digest = self.package.digest(
            [MANIFEST, *(f"{name}.csv" for name, mode in modes.items() if mode != ABSENT)]
        )
        delta = sorted(name for name, table in tables.items() if table.mode == DELTA)
        kind = "delta" if delta else "bulk"
        summary = _(
            "{name}: {pupils} leerlingen, {groups} groepen, {teachers} leerkrachten gelezen "
            "(OneRoster {version} {kind}, schooljaar {schooljaar})"
        ).format(
            name=self.package.path.name,
            pupils=len(pupils),
            groups=len(groups),
            teachers=len(teachers),
            version=version,
            kind=kind,
            schooljaar=school["schooljaar"],
        )
        notes = [summary]
        if delta:
            notes.append(
                _(
                    "deltapakket ({value}): het bevat alleen de gewijzigde records; "
                    "leerlingen die het niet noemt staan niet in deze export"
                ).format(
                    value=", ".join(delta),
                )
            )
        return SchoolExport(
            path=self.package.path,
            sha256=digest,
            format=FORMAT,
            school=school,
            school_line=school_line,
            pupils=pupils,
            groups=groups,
            teachers=teachers,
            encoding="utf-8",
            notes=(*notes, *self.notes),
        )

    # -- manifest -----------------------------------------------------------------------

    def _manifest(self) -> tuple[str, dict[str, str], dict[str, int]]:
        label, body, records = self._records(
            MANIFEST, "manifest_header", _("begin manifest.csv met de regel propertyName,value")
        )
        header = header_names(body, records)
        if header != ["propertyName", "value"]:
            raise rule_error(
                at_line(label, 1),
                _("de kopregel is niet propertyName,value"),
                "manifest_header",
                _("begin manifest.csv met de regel propertyName,value"),
            )
        file = CsvFile("manifest", label, BULK, body, records, header)
        frame = parse_table(file, ("propertyName", "value")).frame
        names = frame["propertyName"].str.strip()
        values = frame["value"].str.strip()
        twice = names.duplicated()
        if twice.any():
            first = int(np.flatnonzero(twice.to_numpy())[0])
            raise rule_error(
                at_line(label, int(frame[LINE].iloc[first])),
                _("{prop} staat er een tweede keer").format(prop=property_name(names.iloc[first])),
                "manifest_property",
                _("houd één regel per eigenschap"),
            )
        lines = dict(zip(names, frame[LINE].astype(int), strict=True))
        props = dict(zip(names, values, strict=True))
        version = props.get("oneroster.version")
        if version not in VERSIONS:
            where = (
                at_line(label, lines["oneroster.version"])
                if "oneroster.version" in lines
                else label
            )
            problem = (
                _("oneroster.version ontbreekt")
                if version is None
                else _("oneroster.version is niet 1.1 of 1.2")
            )
            raise rule_error(
                where,
                problem,
                "manifest_version",
                _("{reexport} als OneRoster 1.1 of 1.2").format(reexport=reexport_fix()),
            )
        if props.get("manifest.version") != "1.0":
            where = (
                at_line(label, lines["manifest.version"]) if "manifest.version" in lines else label
            )
            raise rule_error(
                where,
                _("manifest.version ontbreekt of is niet 1.0"),
                "manifest_version",
                _("zet manifest.version op 1.0"),
            )
        modes: dict[str, str] = {}
        mode_lines: dict[str, int] = {}
        known = MANIFEST_FILES[version]
        for prop in sorted((p for p in props if p.startswith("file.")), key=lines.__getitem__):
            name = prop.removeprefix("file.")
            if name not in known:
                continue  # another version's file, or a vendor's: not read
            mode = props[prop]
            if mode not in MODES:
                problem = (
                    _("{prop} heeft geen waarde").format(prop=prop)
                    if not mode
                    else _("{prop} is niet absent, bulk of delta").format(prop=prop)
                )
                raise rule_error(
                    at_line(label, lines[prop]),
                    problem,
                    "file_mode",
                    _("zet {prop} op absent, bulk of delta").format(prop=prop),
                )
            modes[name] = mode
            mode_lines[name] = lines[prop]
        for name in known:
            modes.setdefault(name, ABSENT)  # a missing key lists no file
        return version, modes, mode_lines

    def _check_listed(self, version: str, modes: dict[str, str], lines: dict[str, int]) -> None:
        label = self.package.label(MANIFEST)
        names = self.package.names
        for name in sorted((n for n in modes if modes[n] != ABSENT), key=lines.__getitem__):
            wanted = f"{name}.csv"
            if wanted in names:
                continue
            alike = sorted(n for n in names if n.lower() == wanted.lower())
            fix = (
                _("hernoem {alike} naar {wanted}").format(alike=alike[0], wanted=wanted)
                if alike
                else _("voeg {wanted} toe, of zet file.{name} op absent").format(
                    wanted=wanted, name=name
                )
            )
            raise rule_error(
                at_line(label, lines[name]),
                _("file.{name} is {mode}, maar {wanted} staat niet in het pakket").format(
                    name=name, mode=modes[name], wanted=wanted
                ),
                "file_listed",
                fix,
            )
        for name in NEEDED[version]:
            if modes[name] == ABSENT:
                where = at_line(label, lines[name]) if name in lines else label
                raise rule_error(
                    where,
                    _("file.{name} is absent").format(name=name),
                    "file_needed",
                    _("{reexport}, met {name}.csv (bulk of delta)").format(
                        reexport=reexport_fix(), name=name
                    ),
                )

    def _records(self, name: str, code: str, fix: str) -> tuple[str, bytes, Records]:
        """The label, UTF-8 body and records of file `name`; refused without a header line."""
        label = self.package.label(name)
        body = strip_bom(self.package.read(name))
        decode(body, label)
        records = scan_records(body, label)
        if not len(records.starts) or records.blank[0]:
            raise rule_error(at_line(label, 1), _("de kopregel ontbreekt"), code, fix)
        return label, body, records

    # -- structure and rows -------------------------------------------------------------

    def _structure(self, version: str, modes: dict[str, str]) -> dict[str, CsvFile]:
        """Encoding, quoting, header and line widths of every file Sluis reads, before any row."""
        files: dict[str, CsvFile] = {}
        for name, expected in SPEC_HEADERS[version].items():
            if modes[name] == ABSENT:
                continue
            label, body, records = self._records(
                f"{name}.csv",
                "header",
                _("{reexport}; elk bestand begint met zijn kopregel").format(
                    reexport=reexport_fix()
                ),
            )
            file = CsvFile(name, label, modes[name], body, records, header_names(body, records))
            check_header(file, expected, version)
            check_width(file)
            files[name] = file
        return files

    def _rows(self, file: CsvFile, version: str) -> Table:
        table = parse_table(file, KEEP[file.name])
        frame = table.frame
        status = frame["status"]
        modified = frame["dateLastModified"]
        if table.mode == BULK:
            fix = _(
                "maak status en dateLastModified leeg in {name}.csv, of zet file.{name} op "
                "delta in manifest.csv"
            ).format(name=file.name)
            table.first(
                status != "",
                _("status is ingevuld, maar manifest.csv noemt {name} bulk").format(name=file.name),
                "bulk_lifecycle",
                fix,
            )
            table.first(
                modified != "",
                _("dateLastModified is ingevuld, maar manifest.csv noemt {name} bulk").format(
                    name=file.name
                ),
                "bulk_lifecycle",
                fix,
            )
        else:
            fix = _(
                "{reexport}; elke deltaregel zegt of hij active of tobedeleted is, en sinds wanneer"
            ).format(reexport=reexport_fix())
            table.first(status == "", _("status is leeg in een deltabestand"), "delta_status", fix)
            table.first(
                ~status.isin([ACTIVE, TO_BE_DELETED]),
                _("status is niet active of tobedeleted"),
                "delta_status",
                fix,
            )
            table.first(
                modified == "", _("dateLastModified is leeg in een deltabestand"), "delta_date", fix
            )
            table.first(
                ~modified.str.match(DATE_TIME),
                _("dateLastModified is geen tijdstip zoals 2026-09-01T08:00:00.000Z"),
                "delta_date",
                fix,
            )
        table.first(
            frame["sourcedId"].str.strip() == "",
            _("sourcedId is leeg"),
            "required",
            _("{reexport}; elk record heeft een sourcedId").format(reexport=reexport_fix()),
        )
        table.first(
            frame["sourcedId"].duplicated(),
            _("deze sourcedId staat ook op een eerdere regel"),
            "unique",
            _("{reexport}; houd één record per sourcedId").format(reexport=reexport_fix()),
        )
        required = REQUIRED.get(file.name, ())
        if file.name == "users" and version != "1.1":
            required = ()
        for column in required:
            table.first(
                frame[column].str.strip() == "",
                _("{column} is leeg").format(column=column),
                "required",
                _("{reexport}; vul {column} op elke regel in").format(
                    reexport=reexport_fix(), column=column
                ),
            )
        if file.name == "classes":
            kind = frame["classType"].str.strip().str.lower()
            table.first(
                ~kind.isin([HOMEROOM, SCHEDULED]),
                _("classType is niet homeroom of scheduled"),
                "class_type",
                _("gebruik homeroom voor een stamgroep en scheduled voor elke andere groep"),
            )
        return table

    # -- school ---------------------------------------------------------------------------

    def _school(self, tables: dict[str, Table]) -> tuple[dict[str, str | None], int]:
        orgs = tables["orgs"]
        active = orgs.active()
        schools = active.loc[active["type"].str.strip().str.lower() == "school"]
        if len(schools) > 1:
            lines = ", ".join(str(n) for n in schools[LINE].head(3))
            raise rule_error(
                at_line(orgs.label, int(schools[LINE].iloc[1])),
                _("{count} orgs van type school (regels {lines}{more})").format(
                    count=len(schools), lines=lines, more=", ..." if len(schools) > 3 else ""
                ),
                "school",
                _("exporteer één pakket per school"),
            )
        if len(schools) == 0:
            schools = self._school_by_reference(tables, active)
        org = schools.iloc[0]
        school: dict[str, str | None] = dict.fromkeys(SCHOOL_FIELDS)
        identifier = org["identifier"]
        school["brincode"] = canonical_brin(identifier if isinstance(identifier, str) else None)
        school["schoolkey"] = str(org["sourcedId"])
        school["schooljaar"] = self._school_year(tables["academicSessions"])
        return school, int(org[LINE])

    def _school_by_reference(self, tables: dict[str, Table], orgs: pd.DataFrame) -> pd.DataFrame:
        """No org of type school: the one org every class and enrollment calls its school."""
        named = [
            tables[name].active()["schoolSourcedId"]
            for name in ("classes", "enrollments")
            if name in tables
        ]
        keys = pd.concat(named).str.strip() if named else pd.Series([], dtype="str")
        keys = keys.loc[keys != ""].drop_duplicates()
        found = orgs.loc[isin(orgs["sourcedId"], keys)]
        if len(keys) != 1 or len(found) != 1:
            raise rule_error(
                tables["orgs"].label,
                _("geen org heeft type school"),
                "school",
                _("geef de org van de school het type school"),
            )
        self.notes.append(
            _(
                "orgs.csv: geen org heeft type school; de org op regel {value} "
                "wordt als de school gelezen, omdat classes en enrollments haar "
                "als hun school noemen"
            ).format(
                value=int(found[LINE].iloc[0]),
            )
        )
        return found

    def _school_year(self, sessions: Table) -> str:
        active = sessions.active()
        year_type = active["type"].str.strip().str.lower() == "schoolyear"
        rows = active.loc[year_type] if year_type.any() else active
        by_dates = school_year_by_dates(rows["startDate"], rows["endDate"])
        by_column = school_year_by_column(rows["schoolYear"])
        year = by_dates.fillna(by_column)
        missing = year.isna()
        if len(rows) == 0 or (year_type.any() and missing.any()):
            where = (
                at_line(sessions.label, int(rows.loc[missing, LINE].iloc[0]))
                if len(rows)
                else sessions.label
            )
            raise rule_error(
                where,
                _("er is geen schooljaar te lezen (startDate en endDate, of schoolYear)"),
                "school_year",
                _("geef de schooljaarsessie haar startDate en endDate"),
            )
        years = year.dropna().unique()
        if len(years) == 0:
            raise rule_error(
                sessions.label,
                _("geen sessie noemt haar datums of schooljaar"),
                "school_year",
                _("exporteer de schooljaarsessie met haar startDate en endDate"),
            )
        if len(years) > 1:
            raise rule_error(
                sessions.label,
                _("de sessies bevatten de schooljaren {years}").format(
                    years=", ".join(sorted(years))
                ),
                "school_year",
                _("exporteer het pakket voor één schooljaar"),
            )
        disagree = by_dates.notna() & by_column.notna() & (by_dates != by_column)
        if disagree.any():
            self.notes.append(
                _(
                    "academicSessions.csv: schoolYear zegt {value} maar de datums "
                    "zeggen {value2}; de datums worden gevolgd"
                ).format(
                    value=by_column.loc[disagree].iloc[0],
                    value2=years[0],
                )
            )
        return str(years[0])
