"""The column map of a CSV or Excel overzicht: which header is which canonical column."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from connectors import safe_yaml
from connectors.errors import ConfigurationError
from connectors.i18n import _
from connectors.pydantic_messages import error_message
from connectors.sources.base import (
    PUPIL_COLUMNS,
    SCHOOL_FIELDS,
)

__all__ = ["GROUP_NAME", "ColumnMap", "load_column_map", "normalise_header", "school_year"]

# The group name is not a pupil column (validation adds it from the groups frame), but
# the export carries it per pupil and the groups are built from it.
GROUP_NAME = "groepsnaam"
# samengestelde_groepen refers to group definitions that a flat overzicht cannot carry.
_MAPPABLE_PUPIL_COLUMNS = (
    *(name for name in PUPIL_COLUMNS if name != "samengestelde_groepen"),
    GROUP_NAME,
)
_SCHOOLJAAR = re.compile(r"(\d{4})\s*[-/]\s*(\d{4})")


def normalise_header(name: str) -> str:
    """Return the form headers are compared in: case-folded, without any white space.

    Args:
        name: a header as written in the export or in a column map.

    Returns:
        The header without spaces (also non-breaking ones), case-folded.
    """
    return "".join(name.split()).casefold()


# -- the column map -------------------------------------------------------------------


def _as_list(value: Any) -> Any:
    # One header may be written as a plain string instead of a one-item list.
    return [value] if isinstance(value, str) else value


Headers = Annotated[
    list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list), Field(min_length=1)
]


def _text_value(value: Any) -> Any:
    # YAML reads 00 as the number 0 and 2026 as a number: a default must be quoted text.
    if not isinstance(value, str):
        raise ValueError(
            _("zet de waarde tussen aanhalingstekens (als tekst), bijvoorbeeld '{value}'").format(
                value=value
            )
        )
    return value


DefaultValue = Annotated[str, BeforeValidator(_text_value)]
Requirement = Annotated[
    list[Annotated[str, Field(min_length=1)]], BeforeValidator(_as_list), Field(min_length=1)
]


class ColumnMap(BaseModel):
    """One export layout: which header is which canonical column, and what is required.

    Attributes:
        name: short name of the layout, for notes and messages.
        description: what export this map is for.
        sheet: the sheet of a workbook to read; None for the first sheet.
        columns: canonical pupil column (or `groepsnaam`) -> the headers it may have.
        school: school header field (SCHOOL_FIELDS) -> the headers of a column holding it;
            every row must hold the same value.
        defaults: school header field -> value, for an export without such a column.
        required: canonical names the export must have; an inner list means "one of".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    name: str = Field(min_length=1)
    description: str = ""
    sheet: str | None = None
    columns: dict[str, Headers]
    school: dict[str, Headers] = Field(default_factory=dict)
    defaults: dict[str, DefaultValue] = Field(default_factory=dict)
    required: list[Requirement]

    @model_validator(mode="after")
    def _consistent(self) -> ColumnMap:
        for key in self.columns:
            if key not in _MAPPABLE_PUPIL_COLUMNS:
                raise ValueError(
                    _("columns.{key}: geen canonieke leerlingkolom; bekend: {known}").format(
                        key=key, known=", ".join(_MAPPABLE_PUPIL_COLUMNS)
                    )
                )
        for section, mapping in (("school", self.school), ("defaults", self.defaults)):
            for key in mapping:
                if key not in SCHOOL_FIELDS:
                    raise ValueError(
                        _(
                            "{section}.{key}: geen veld van de schoolgegevens; bekend: {known}"
                        ).format(section=section, key=key, known=", ".join(SCHOOL_FIELDS))
                    )
        for key, value in self.defaults.items():
            if not value:
                raise ValueError(
                    _("defaults.{key}: leeg; geef een waarde of verwijder de sleutel").format(
                        key=key
                    )
                )
        year = self.defaults.get("schooljaar")
        if year is not None and school_year(year) is None:
            raise ValueError(_("defaults.schooljaar: geen schooljaar zoals 2026-2027"))
        seen: dict[str, str] = {}
        for section, mapping in (("columns", self.columns), ("school", self.school)):
            for key, headers in mapping.items():
                for header in headers:
                    where = f"{section}.{key}"
                    other = seen.setdefault(normalise_header(header), where)
                    if other != where:
                        raise ValueError(
                            _(
                                "{where}: kolomkop {header} staat ook onder {other}; een "
                                "kolomkop kan maar één kolom betekenen"
                            ).format(where=where, header=repr(header), other=other)
                        )
        known = {*self.columns, *self.school, *self.defaults}
        for position, requirement in enumerate(self.required):
            for name in requirement:
                if name not in known:
                    raise ValueError(
                        _(
                            "required[{position}]: {name} staat niet onder columns, school "
                            "of defaults"
                        ).format(position=position, name=repr(name))
                    )
        if ["leerlingkey"] not in self.required:
            raise ValueError(
                _(
                    "required: moet leerlingkey als eigen regel noemen; elke leerling heeft "
                    "zijn sleutel nodig"
                )
            )
        if "schooljaar" not in self.school and "schooljaar" not in self.defaults:
            raise ValueError(
                _(
                    "school.schooljaar: wijs een kolom Schooljaar toe of zet "
                    "defaults.schooljaar; toestemming en levering hangen af van het schooljaar"
                )
            )
        return self

    def targets(self) -> dict[str, str]:
        """Return normalised header -> canonical name, for pupil and school columns."""
        return {
            normalise_header(header): name
            for mapping in (self.columns, self.school)
            for name, headers in mapping.items()
            for header in headers
        }

    def display(self, name: str) -> str:
        """Return the header a canonical name is shown as: its first listed header."""
        headers = self.columns.get(name) or self.school.get(name)
        return headers[0] if headers else name


def load_column_map(path: Path) -> ColumnMap:
    """Load and validate a column map.

    Args:
        path: the YAML file.

    Returns:
        The validated map.

    Raises:
        ConfigurationError: the file cannot be read, is not YAML, or breaks a rule; the
            message names the file and the key.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        raise ConfigurationError(
            _(
                "{path}: de kolomindeling kan niet gelezen worden ({reason}); controleer het pad"
            ).format(
                path=path,
                reason=reason,
            )
        ) from None
    try:
        data = safe_yaml.safe_load(text)
    except safe_yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = " " + _("regel {line}").format(line=mark.line + 1) if mark is not None else ""
        problem = getattr(exc, "problem", None) or _("geen geldige YAML")
        raise ConfigurationError(
            _("{path}{where}: de kolomindeling is geen geldige YAML ({problem})").format(
                path=path,
                where=where,
                problem=problem,
            )
        ) from None
    if not isinstance(data, dict):
        raise ConfigurationError(
            _(
                "{path}: de kolomindeling moet een mapping zijn met de sleutels "
                "name, columns, required, ..."
            ).format(
                path=path,
            )
        )
    try:
        return ColumnMap.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(
            _("{path}: {exc}").format(
                path=path,
                exc=_map_problems(exc),
            )
        ) from None


def _map_problems(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"])
        message = error_message(error)
        if error["type"] == "extra_forbidden":
            message = _("onbekende sleutel; bekend: {known}").format(
                known=", ".join(ColumnMap.model_fields)
            )
        problems.append(
            _("sleutel {key}: {message}").format(key=key, message=message) if key else message
        )
    return "; ".join(problems)


def school_year(value: str) -> str | None:
    """Return a school year as 2026-2027, or None when the text is no school year."""
    match = _SCHOOLJAAR.fullmatch(value.strip())
    if match is None or int(match.group(2)) != int(match.group(1)) + 1:
        return None
    return f"{match.group(1)}-{match.group(2)}"
