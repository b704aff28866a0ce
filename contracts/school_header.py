"""The school header of an export: which school it is, by a BRIN code and nothing else.

Every delivery folder, lineage record, erasure and lock is filed under the BRIN, so an
export without one, or with something else in its place (a path, 100 KB of text, a
OneRoster sourcedId), is refused before anything is read into policy.
"""

from __future__ import annotations

from connectors.errors import SourceFormatError
from connectors.identifiers import canonical_brin, is_brin, quoted
from connectors.sources.base import SchoolExport

__all__ = ["checked_school"]

_FIX = {
    "edexml": "fill in <brincode> in the school block of the administration and export again",
    "csv_export": "fill in the BRIN column, or set brincode under defaults in the column map",
    "oneroster": "set the identifier of the school's org in orgs.csv to its BRIN code",
}
_FIX_OTHER = "correct the BRIN code in the administration and export again"
_FORM = "two digits and two letters, sometimes two more digits, such as 07XY"


def checked_school(export: SchoolExport) -> dict[str, str | None]:
    """The export's school header with its BRIN in canonical form.

    Raises:
        SourceFormatError: the header has no BRIN, or its brincode is not one; the
            message names the file, the line when known and the fix, and quotes at most
            40 characters of the value.
    """
    school = dict(export.school)
    where = f"{export.path} line {export.school_line}" if export.school_line else f"{export.path}"
    fix = _FIX.get(export.format, _FIX_OTHER)
    value = school.get("brincode")
    if value is None or not value.strip():
        raise SourceFormatError(
            f"{where}: the export names no BRIN code for the school, and Sluis files every "
            f"delivery under it; {fix}"
        )
    if not is_brin(value):
        raise SourceFormatError(
            f"{where}: the school's brincode {quoted(value)} is not a BRIN code ({_FORM}); {fix}"
        )
    school["brincode"] = canonical_brin(value)
    return school
