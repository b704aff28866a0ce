"""The school header of an export: which school it is, by a BRIN code and nothing else.

Every delivery folder, lineage record, erasure and lock is filed under the BRIN, so an
export without one, or with something else in its place (a path, 100 KB of text, a
OneRoster sourcedId), is refused before anything is read into policy.
"""

from __future__ import annotations

from connectors.errors import SourceFormatError
from connectors.i18n import _
from connectors.identifiers import canonical_brin, is_brin, quoted
from connectors.sources.base import SchoolExport

__all__ = ["checked_school"]


def _fix(export_format: str) -> str:
    """What to do about a missing or wrong BRIN, per kind of export."""
    fixes = {
        "edexml": _(
            "vul <brincode> in het schoolblok van de administratie in en exporteer opnieuw"
        ),
        "csv_export": _("vul de BRIN-kolom in, of zet brincode onder defaults in de kolomindeling"),
        "oneroster": _("zet de identifier van de org van de school in orgs.csv op haar BRIN-code"),
    }
    return fixes.get(
        export_format, _("verbeter de BRIN-code in de administratie en exporteer opnieuw")
    )


def checked_school(export: SchoolExport) -> dict[str, str | None]:
    """The export's school header with its BRIN in canonical form.

    Raises:
        SourceFormatError: the header has no BRIN, or its brincode is not one; the
            message names the file, the line when known and the fix, and quotes at most
            40 characters of the value.
    """
    school = dict(export.school)
    where = (
        _("{path} regel {line}").format(path=export.path, line=export.school_line)
        if export.school_line
        else str(export.path)
    )
    fix = _fix(export.format)
    value = school.get("brincode")
    if value is None or not value.strip():
        raise SourceFormatError(
            _(
                "{where}: de export noemt geen BRIN-code voor de school, en Sluis legt elke "
                "levering daaronder vast; {fix}"
            ).format(where=where, fix=fix)
        )
    if not is_brin(value):
        raise SourceFormatError(
            _(
                "{where}: de brincode {value} van de school is geen BRIN-code (twee cijfers en "
                "twee letters, soms nog twee cijfers, zoals 07XY); {fix}"
            ).format(where=where, value=quoted(value), fix=fix)
        )
    school["brincode"] = canonical_brin(value)
    return school
