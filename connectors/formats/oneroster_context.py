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
from connectors.formats.oneroster_arrays import blank_to_null, guid_one
from connectors.formats.oneroster_columns import FORMAT, SCHOOLJAAR
from connectors.i18n import _


@dataclass(frozen=True)
class School:
    """The org and school year every record points to."""

    org: str
    brincode: str
    session: str
    schooljaar: str
    first_year: int
    last_year: int


# -- context -----------------------------------------------------------------------------------


def is_delta(context: RenderContext) -> bool:
    """Whether the context asks for a delta; refuses a mode that is neither."""
    if context.mode not in ("full", "delta"):
        raise ConfigurationError(
            _("{format}: de modus moet full of delta zijn, niet {mode}").format(
                format=FORMAT,
                mode=repr(context.mode),
            )
        )
    return context.mode == "delta"


def delta_stamp(created_at: str) -> str:
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


def school_of(header: Mapping[str, str | None]) -> School:
    """The org and school year from the school header; refuses one without them."""
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
    match = SCHOOLJAAR.fullmatch(schooljaar)
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
    org = guid_one(brincode)
    return School(
        org=org,
        brincode=brincode,
        session=guid_one(f"{org}.{schooljaar}"),
        schooljaar=schooljaar,
        first_year=int(match[1]),
        last_year=int(match[2]),
    )


def removed_rows(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array:
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
    check_aligned(changes, frame, "changes")
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


def previous_groups_of(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the stamgroep the supplier had before, where it changed."""
    return delta_groups(frame, context.previous_groups, delta, "previous_groups")


def left_groups_of(frame: pd.DataFrame, context: RenderContext, delta: bool) -> pa.Array | None:
    """Delta: per pupil the samengestelde groepen the supplier had it in and should not."""
    return delta_groups(frame, context.left_groups, delta, "left_groups")


def delta_groups(
    frame: pd.DataFrame, groups: pd.Series | None, delta: bool, name: str
) -> pa.Array | None:
    """A context series of group keys as an array lined up with the frame; delta only."""
    if not delta or groups is None:
        return None
    check_aligned(groups, frame, name)
    return blank_to_null(arrow_text(groups))


def check_aligned(series: pd.Series, frame: pd.DataFrame, name: str) -> None:
    """Refuse a context series that is not lined up with the frame's index."""
    if not series.index.equals(frame.index):
        raise ConfigurationError(
            _(
                "{format}: context.{name} moet de index van de tabel hebben (één waarde per rij)"
            ).format(
                format=FORMAT,
                name=name,
            )
        )
