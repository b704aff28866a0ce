"""OneRoster 1.2 writer: the RenderContext read and checked (mode, school, changes)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa

from connectors.errors import ConfigurationError, InputError
from connectors.formats.base import (
    CHANGE_KINDS,
    CHANGE_REMOVED,
    RenderContext,
    arrow_text,
    clean_text,
)
from connectors.formats.oneroster_arrays import _blank_to_null, _guid_one
from connectors.formats.oneroster_columns import _SCHOOLJAAR, FORMAT
from connectors.i18n import _


@dataclass(frozen=True)
class _School:
    """The org and school year every record points to."""

    org: str
    brincode: str
    session: str
    schooljaar: str
    first_year: int
    last_year: int


# -- context -----------------------------------------------------------------------------------


def _is_delta(context: RenderContext) -> bool:
    if context.mode not in ("full", "delta"):
        raise ConfigurationError(
            _("{format}: de modus moet full of delta zijn, niet {mode}").format(
                format=FORMAT,
                mode=repr(context.mode),
            )
        )
    return context.mode == "delta"


def _stamp(created_at: str) -> str:
    """The run's start as OneRoster dateLastModified: YYYY-MM-DDTHH:MM:SS.sssZ in UTC."""
    try:
        moment = datetime.fromisoformat(created_at)
    except (TypeError, ValueError):
        raise ConfigurationError(
            _("{format}: created_at {created_at} is geen ISO 8601-tijdstip").format(
                format=FORMAT,
                created_at=repr(created_at),
            )
        ) from None
    # The context promises UTC; a naive timestamp is read as such, not as local time.
    moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _school(header: Mapping[str, str | None]) -> _School:
    brincode = clean_text(header.get("brincode")) or clean_text(header.get("schoolkey"))
    if brincode is None:
        raise InputError(
            _(
                "{format}: de schoolkop heeft geen brincode of schoolkey, dus de "
                "org heeft geen sourcedId; controleer de schoolkop van de export"
            ).format(
                format=FORMAT,
            )
        )
    schooljaar = clean_text(header.get("schooljaar")) or ""
    match = _SCHOOLJAAR.fullmatch(schooljaar)
    if match is None or int(match[2]) != int(match[1]) + 1:
        raise InputError(
            _(
                "{format}: de schoolkop heeft geen schooljaar zoals 2026-2027, dat "
                "academicSessions.csv nodig heeft; controleer de schoolkop van de "
                "export"
            ).format(
                format=FORMAT,
            )
        )
    org = _guid_one(brincode)
    return _School(
        org=org,
        brincode=brincode,
        session=_guid_one(f"{org}.{schooljaar}"),
        schooljaar=schooljaar,
        first_year=int(match[1]),
        last_year=int(match[2]),
    )


def _removed(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array:
    """Per pupil (by position) whether the row is a removal."""
    changes = context.changes
    if changes is None:
        if delta:
            raise ConfigurationError(
                _(
                    "{format}: een delta heeft context.changes nodig (added, changed "
                    "of removed per rij)"
                ).format(
                    format=FORMAT,
                )
            )
        return pa.repeat(False, len(frame))
    _check_aligned(changes, frame, "changes")
    known = changes.isin(CHANGE_KINDS)
    if not bool(known.all()):
        raise ConfigurationError(
            _("{format}: context.changes bevat {value} waarden die niet {value2} zijn").format(
                format=FORMAT,
                value=int((~known).sum()),
                value2=", ".join(CHANGE_KINDS),
            )
        )
    removed = (changes == CHANGE_REMOVED).to_numpy(dtype=bool)
    if not delta and removed.any():
        raise ConfigurationError(
            _(
                "{format}: een volledige (bulk-)levering kan geen verwijderde "
                "rijen bevatten; bulk zegt wie er is, dus laat verwijderde "
                "leerlingen weg of gebruik modus delta"
            ).format(
                format=FORMAT,
            )
        )
    return pa.array(removed, pa.bool_())


def _previous(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the stamgroep the supplier had before, where it changed."""
    return _delta_groups(frame, context.previous_groups, delta, "previous_groups")


def _left(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the samengestelde groepen the supplier had it in and should not."""
    return _delta_groups(frame, context.left_groups, delta, "left_groups")


def _delta_groups(
    frame: pd.DataFrame, groups: pd.Series | None, delta: bool, name: str
) -> pa.Array | None:
    """A context series of group keys as an array lined up with the frame; delta only."""
    if not delta or groups is None:
        return None
    _check_aligned(groups, frame, name)
    return _blank_to_null(arrow_text(groups))


def _check_aligned(series: pd.Series, frame: pd.DataFrame, name: str) -> None:
    if not series.index.equals(frame.index):
        raise ConfigurationError(
            _(
                "{format}: context.{name} moet de index van de tabel hebben (één waarde per rij)"
            ).format(
                format=FORMAT,
                name=name,
            )
        )
