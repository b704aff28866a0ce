"""Write a SchoolExport as a OneRoster CSV bulk package, to test OneRosterSource against EDEXML.

Test code, not a delivery format: it writes what OneRoster can carry of an export read
from EDEXML, in the shape connectors/sources/oneroster.py documents, so that reading the
package back must give the same pupils on the columns both formats share.

What OneRoster cannot carry, and this writer therefore leaves out:

- voorvoegsel (tussenvoegsel): OneRoster has only familyName. Folding it in ("van der
  Linden") would change achternaam, so it is dropped and achternaam stays the significant
  part of the surname.
- voornamen and voorletters: middleName is not a Dutch name part (see the source).
- geslacht 0 (onbekend): OneRoster's sex has male, female, other and unspecified; 9 is
  written as unspecified and 0 as a blank sex, which reads back as missing.
- start_ondw_jgr3, vestiging, fotourl, peildatum, dependancecode, and every sensitive
  column (bsn, onderwijsnummer, etniciteit, land*, gewicht*, postcode, toevoegingen).
- In 1.1 also eckid (no userMasterIdentifier) and instroomdatum/uitstroomdatum (no
  roles.csv with dates).
- Teachers' rollen and voorletters.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import pandas as pd

from connectors.sources.base import GROUP_KEY_SEPARATOR, SchoolExport
from connectors.sources.oneroster import MANIFEST_FILES, SPEC_HEADERS

__all__ = ["write_oneroster"]

_COURSES = (
    "sourcedId",
    "status",
    "dateLastModified",
    "schoolYearSourcedId",
    "title",
    "courseCode",
    "grades",
    "orgSourcedId",
    "subjects",
    "subjectCodes",
)
# OneRoster 1.2 GUIDs: 1-255 of these characters. EDEXML keys such as "#001" are not.
_GUID = re.compile(r"^[0-9A-Za-z./@_-]{1,255}$")
_SEX = {"1": "male", "2": "female", "9": "unspecified"}


def write_oneroster(export: SchoolExport, folder: Path, version: str = "1.2") -> None:
    """Write `export` as a OneRoster `version` bulk package (CSV files) into `folder`.

    Pupils and teachers get positional sourcedIds (leerling-1, leerkracht-1, ...), because
    EDEXML keys need not be OneRoster GUIDs; their own key goes to `identifier`, which the
    source reads as leerlingkey. Groups keep their key as sourcedId.

    Args:
        export: a school export, as read by EdexmlSource.
        folder: where the package goes; created if needed.
        version: "1.1" or "1.2".
    """
    if version not in ("1.1", "1.2"):
        raise ValueError(f"version must be 1.1 or 1.2, not {version!r}")
    folder.mkdir(parents=True, exist_ok=True)
    school = export.school
    brin = school.get("brincode") or "school"
    org = f"org-{brin}"
    first, last = str(school["schooljaar"]).split("-")
    session = f"sy-{last}"
    course = "crs-basisonderwijs"

    _write(
        folder,
        "orgs",
        SPEC_HEADERS[version]["orgs"],
        [{"sourcedId": org, "name": brin, "type": "school", "identifier": brin}],
    )
    _write(
        folder,
        "academicSessions",
        SPEC_HEADERS[version]["academicSessions"],
        [
            {
                "sourcedId": session,
                "title": f"Schooljaar {first}-{last}",
                "type": "schoolYear",
                "startDate": f"{first}-08-01",
                "endDate": f"{last}-07-31",
                "schoolYear": last,
            }
        ],
    )
    _write(
        folder,
        "courses",
        _COURSES,
        [
            {
                "sourcedId": course,
                "schoolYearSourcedId": session,
                "title": "Basisonderwijs",
                "orgSourcedId": org,
            }
        ],
    )

    pupils = _records(export.pupils)
    teachers = _records(export.teachers)
    groups = _records(export.groups)
    for group in groups:
        assert _GUID.match(str(group["groepskey"])), "group keys are written as sourcedIds"

    _write(
        folder,
        "classes",
        SPEC_HEADERS[version]["classes"],
        [_class(g, pupils, org, session, course) for g in groups],
    )

    users: list[dict[str, str]] = []
    roles: list[dict[str, str]] = []
    enrollments: list[dict[str, str]] = []
    demographics: list[dict[str, str]] = []
    for kind, people, key_column in (
        ("student", pupils, "leerlingkey"),
        ("teacher", teachers, "leerkrachtkey"),
    ):
        prefix = "leerling" if kind == "student" else "leerkracht"
        for number, person in enumerate(people, start=1):
            sourced_id = f"{prefix}-{number}"
            users.append(_user(person, sourced_id, kind, key_column, org, version))
            roles.append(
                {
                    "sourcedId": f"role-{sourced_id}",
                    "userSourcedId": sourced_id,
                    "roleType": "primary",
                    "role": kind,
                    "beginDate": _text(person.get("instroomdatum")),
                    "endDate": _text(person.get("uitstroomdatum")),
                    "orgSourcedId": org,
                }
            )
            if kind == "student":
                homeroom = _text(person.get("groepskey"))
                classes = [(homeroom, "true")] if homeroom else []
                classes += [(key, "false") for key in _split(person.get("samengestelde_groepen"))]
                demographics.append(
                    {
                        "sourcedId": sourced_id,
                        "birthDate": _text(person.get("geboortedatum")),
                        "sex": _SEX.get(_text(person.get("geslacht")), ""),
                    }
                )
            else:
                classes = [(key, "false") for key in _split(person.get("groepen"))]
            for class_id, primary in classes:
                enrollments.append(
                    {
                        "sourcedId": f"enr-{len(enrollments) + 1}",
                        "classSourcedId": class_id,
                        "schoolSourcedId": org,
                        "userSourcedId": sourced_id,
                        "role": kind,
                        "primary": primary,
                    }
                )

    _write(folder, "users", SPEC_HEADERS[version]["users"], users)
    _write(folder, "enrollments", SPEC_HEADERS[version]["enrollments"], enrollments)
    _write(folder, "demographics", SPEC_HEADERS[version]["demographics"], demographics)
    written = {
        "orgs",
        "academicSessions",
        "courses",
        "classes",
        "users",
        "enrollments",
        "demographics",
    }
    if version == "1.2":
        _write(folder, "roles", SPEC_HEADERS[version]["roles"], roles)
        written.add("roles")
    files = MANIFEST_FILES[version]
    manifest = [
        ("manifest.version", "1.0"),
        ("oneroster.version", version),
        *((f"file.{name}", "bulk" if name in written else "absent") for name in files),
        ("source.systemName", "Sluis test writer"),
        ("source.systemCode", "sluis-tests"),
    ]
    with (folder / "manifest.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["propertyName", "value"])
        writer.writerows(manifest)


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    return [dict(row) for row in frame.to_dict(orient="records")]


def _text(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _split(value: object) -> list[str]:
    text = _text(value)
    return [part for part in text.split(GROUP_KEY_SEPARATOR) if part] if text else []


def _grade(jaargroep: object) -> str:
    # Zero-padded like US grade codes ("05"), which the source must read back as "5".
    code = _text(jaargroep)
    return f"0{code}" if code in {"1", "2", "3", "4", "5", "6", "7", "8"} else code


def _class(
    group: dict[str, object],
    pupils: Sequence[dict[str, object]],
    org: str,
    session: str,
    course: str,
) -> dict[str, str]:
    key = _text(group["groepskey"])
    stam = group["soort"] == "groep"
    grades = ""
    if stam:
        grades = _grade(group.get("jaargroep"))
        if grades == "C":
            # A combination group lists the grades of its pupils, as OneRoster would.
            years = sorted(
                {_grade(p.get("jaargroep")) for p in pupils if p.get("groepskey") == key} - {""}
            )
            grades = ",".join(years) if len(years) > 1 else "C"
    return {
        "sourcedId": key,
        "title": _text(group.get("groepsnaam")),
        "grades": grades,
        "courseSourcedId": course,
        "classType": "homeroom" if stam else "scheduled",
        "schoolSourcedId": org,
        "termSourcedIds": session,
    }


def _user(
    person: dict[str, object], sourced_id: str, kind: str, key_column: str, org: str, version: str
) -> dict[str, str]:
    user = {
        "sourcedId": sourced_id,
        "enabledUser": "true" if version == "1.2" else "TRUE",
        "username": _text(person.get("gebruikersnaam")),
        "givenName": _text(person.get("roepnaam")),
        "familyName": _text(person.get("achternaam")),
        "identifier": _text(person.get(key_column)),
        "email": _text(person.get("emailadres")),
        "grades": _grade(person.get("jaargroep")) if kind == "student" else "",
    }
    if version == "1.2":
        user["userMasterIdentifier"] = _text(person.get("eckid"))
        user["primaryOrgSourcedId"] = org
    else:
        user["orgSourcedIds"] = org
        user["role"] = kind
    return user


def _write(folder: Path, name: str, header: Iterable[str], rows: Iterable[dict[str, str]]) -> None:
    columns = list(header)
    with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as handle:
        # csv's default dialect is RFC 4180's: CRLF, and quotes only where needed.
        writer = csv.DictWriter(handle, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(rows)
