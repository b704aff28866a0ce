"""The one-method output format interface and the data file every format returns.

A format turns one delivered frame into the bytes of one or more files. It is pure: no
file system, no clock, no environment, so the same frame always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import ClassVar

import pandas as pd
import pyarrow as pa

from connectors.errors import ConfigurationError, InputError
from connectors.i18n import _

__all__ = [
    "CHANGE_ADDED",
    "CHANGE_CHANGED",
    "CHANGE_KINDS",
    "CHANGE_REMOVED",
    "MAX_NAME_LENGTH",
    "NO_OPTIONS",
    "SAFE_FILE_NAME",
    "AgreementAsk",
    "DataFile",
    "FieldNeed",
    "Format",
    "FormatSpec",
    "RenderContext",
    "RenderRequest",
    "arrow_text",
    "check_frame",
    "check_options",
    "clean_text",
    "pupil_rows_only",
]

# File names end up as paths inside a supplier's folder: one component, no leading dot
# (hidden files are where drops stage work), no separators, nothing a shell or a Windows
# share would read differently.
SAFE_FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Leaves room under the usual 255-byte name limit for the staging prefix and suffix a
# drop adds around ids built from the same alphabet.
MAX_NAME_LENGTH = 200


@dataclass(frozen=True)
class DataFile:
    """One rendered file of a delivery.

    Attributes:
        name: file name inside the delivery folder, e.g. "leerlingen.csv".
        content: the exact bytes to publish.
        rows: number of data rows (records) in the file, header not counted.
    """

    name: str
    content: bytes
    rows: int

    def __post_init__(self) -> None:
        if not (
            isinstance(self.name, str)
            and len(self.name) <= MAX_NAME_LENGTH
            and SAFE_FILE_NAME.fullmatch(self.name)
        ):
            raise ConfigurationError(
                _(
                    "bestandsnaam {name} is niet toegestaan: gebruik hoogstens "
                    "{max_name_length} letters, cijfers, '_', '.' of '-', beginnend "
                    "met een letter of cijfer"
                ).format(
                    name=repr(self.name),
                    max_name_length=MAX_NAME_LENGTH,
                )
            )
        if not isinstance(self.content, bytes):
            raise ConfigurationError(
                _("gegevensbestand {name}: de inhoud moet bytes zijn").format(
                    name=repr(self.name),
                )
            )
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise ConfigurationError(
                _("gegevensbestand {name}: rows moet een geheel getal van minstens 0 zijn").format(
                    name=repr(self.name),
                )
            )

    @cached_property
    def sha256(self) -> str:
        """Hex SHA-256 of the content, as recorded in the manifest and lineage."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class FieldNeed:
    """A value a format cannot write a record without, and will not make up.

    A record meets the need when at least one of `fields` (of those the agreement lists)
    holds a value. Policy withholds a pupil that does not (reason incomplete_for_format)
    and leaves out such a teacher; the writer only checks that it got none, so no format
    ever fills a gap with a value of its own.

    Attributes:
        fields: canonical field names; any one of them, filled in, meets the need.
        why: what the format needs it for, for messages, e.g. "users.familyName is
            required".
    """

    fields: tuple[str, ...]
    why: str

    def unmet(self, frame: pd.DataFrame, listed: Collection[str] | None = None) -> pd.Series:
        """Per row, True when none of the need's fields (that `listed` names) has a value.

        Args:
            frame: records, one per row; a blank value counts as none.
            listed: the fields the agreement lists; None means every column of `frame`.
        """
        met = pd.Series(False, index=frame.index, dtype="bool")
        for name in self.fields:
            if name in frame.columns and (listed is None or name in listed):
                text = frame[name].astype("str").str.strip().fillna("")
                met |= frame[name].notna().to_numpy() & text.ne("").to_numpy()
        return ~met


# What a delta delivery says of each row it carries (and the manifest counts by kind).
CHANGE_ADDED = "added"
CHANGE_CHANGED = "changed"
CHANGE_REMOVED = "removed"
CHANGE_KINDS = (CHANGE_ADDED, CHANGE_CHANGED, CHANGE_REMOVED)


@dataclass(frozen=True)
class RenderContext:
    """What a structured format (EDEXML, OneRoster) needs beyond the pupil rows.

    Everything here is already cut down by policy to what the agreement allows; a format
    writes from it, it never widens it.

    Attributes:
        school: the school header: brincode, dependancecode, schooljaar (e.g.
            "2026-2027"), peildatum, schoolkey; values may be None.
        created_at: the run's start, ISO 8601 in UTC (e.g. "2026-11-28T02:00:00+00:00");
            a format that stamps records (OneRoster dateLastModified) uses this, never
            the clock, so the same run gives the same bytes.
        mode: "full" or "delta".
        changes: delta only: per row of the frame (same index) one of CHANGE_KINDS. A
            removed row holds only the identifier columns (and groepskey when the
            agreement lists it); its other cells are missing.
        previous_groups: delta only: per row of the frame (same index) the groepskey the
            supplier had before, where it differs from the current one (else missing),
            so a format can end an old group membership.
        left_groups: delta only, when the agreement delivers samengestelde_groepen: per
            row (same index) the samengestelde groepen the supplier had the pupil in and
            no longer should, joined by GROUP_KEY_SEPARATOR (else missing); for a removed
            row, all of them.
        groups: the groups the delivered pupils are in: columns groepskey, groepsnaam,
            jaargroep, soort ("groep" or "samengestelde_groep"); one row per group. In a
            delta these are the groups of every pupil the supplier holds after it, not
            only of the frame's rows, so a format can tell a group that is gone.
        teachers: teachers of those groups, only the columns the agreement's
            teacher_fields list (leerkrachtkey, eckid, achternaam, voorvoegsel,
            voorletters, roepnaam, emailadres, groepen); None when it lists none.
            `groepen` holds the teacher's group keys joined by ";", only delivered groups.
            In a delta only the teachers that changed (see teacher_changes).
        teacher_changes: delta only: per row of teachers (same index) one of
            CHANGE_KINDS; None writes every teacher as added. A removed row holds only
            the teacher's identifier columns and the groepen the supplier had it in.
        teacher_left_groups: delta only: per row of teachers (same index) the groepen a
            changed teacher no longer has, joined by GROUP_KEY_SEPARATOR (else missing).
        identifier: the agreement's identifier policy: eckid, eckid_or_key, key or
            pseudoniem; says which column identifies a pupil toward the supplier.
        profile: a named output profile the agreement asks for, e.g. "uwlr-smalle-set".
    """

    school: Mapping[str, str | None]
    created_at: str
    mode: str = "full"
    changes: pd.Series | None = None
    previous_groups: pd.Series | None = None
    left_groups: pd.Series | None = None
    groups: pd.DataFrame | None = None
    teachers: pd.DataFrame | None = None
    teacher_changes: pd.Series | None = None
    teacher_left_groups: pd.Series | None = None
    identifier: str = "key"
    profile: str | None = None


@dataclass(frozen=True)
class AgreementAsk:
    """What an agreement asks of its format, as `Format.problems_of` judges it.

    Attributes:
        fields: the pupil fields it lists.
        teacher_fields: the teacher fields it lists (empty: no teachers).
        identifier: its identifier policy (eckid, eckid_or_key, key, pseudoniem).
        mode: full or delta.
        profile: the format profile it names, or None.
    """

    fields: tuple[str, ...]
    teacher_fields: tuple[str, ...]
    identifier: str
    mode: str
    profile: str | None


@dataclass(frozen=True)
class RenderRequest:
    """What `render` was asked besides the frame, as a format's `write` gets it.

    Attributes:
        basename: file name without extension.
        options: the format's options, already checked against its FormatSpec.
        context: what a structured format needs beyond the rows; None for a flat one.
    """

    basename: str
    options: Mapping[str, str]
    context: RenderContext | None


@dataclass(frozen=True)
class FormatSpec:
    """What a format can carry, declared once per format.

    An agreement asking for more than its format's spec allows is refused when it loads
    rather than at delivery.

    Attributes:
        name: the format's name in agreements and messages, e.g. "csv".
        flat: one row per pupil and nothing else: a delta's change kind travels as a
            `change` column, and no RenderContext (groups, teachers) is needed.
        expresses_deletions: a delta can tell the supplier that a pupil was removed.
        options: the option names `render` accepts; any other is refused.
        profiles: named output profiles it knows (e.g. "uwlr-smalle-set").
        needs_a_pupil: the profiles (None: no profile) whose full files cannot be written
            without at least one pupil, or could not tell the supplier that nobody is left.
        pupil_needs: what every pupil record needs (FieldNeed); policy withholds a pupil
            without it as incomplete_for_format, so the format never invents a value.
        teacher_needs: the same for a teacher record; policy leaves such a teacher out.
    """

    name: str
    flat: bool
    expresses_deletions: bool
    options: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    needs_a_pupil: frozenset[str | None] = frozenset()
    pupil_needs: tuple[FieldNeed, ...] = ()
    teacher_needs: tuple[FieldNeed, ...] = ()


NO_OPTIONS: Mapping[str, str] = MappingProxyType({})


class Format:
    """A writer of one supplier output format: its FormatSpec, and `render`.

    A format fills in `spec` once and writes its files in `write`; `render` checks the
    options against the spec first. The capabilities below are read from the spec.
    """

    spec: ClassVar[FormatSpec]

    @property
    def expresses_deletions(self) -> bool:
        """A delta can tell the supplier that a pupil was removed (FormatSpec)."""
        return self.spec.expresses_deletions

    @property
    def profiles(self) -> tuple[str, ...]:
        """The named output profiles it knows (FormatSpec)."""
        return self.spec.profiles

    @property
    def flat(self) -> bool:
        """One row per pupil and nothing else (FormatSpec)."""
        return self.spec.flat

    @property
    def needs_a_pupil(self) -> frozenset[str | None]:
        """The profiles whose full files cannot be written without a pupil (FormatSpec)."""
        return self.spec.needs_a_pupil

    @property
    def pupil_needs(self) -> tuple[FieldNeed, ...]:
        """What every pupil record needs (FormatSpec)."""
        return self.spec.pupil_needs

    @property
    def teacher_needs(self) -> tuple[FieldNeed, ...]:
        """What every teacher record needs (FormatSpec)."""
        return self.spec.teacher_needs

    def render(
        self,
        frame: pd.DataFrame,
        *,
        basename: str,
        options: Mapping[str, str] = NO_OPTIONS,
        context: RenderContext | None = None,
    ) -> list[DataFile]:
        """Render `frame` into files named after `basename`, without mutating the frame.

        Raises:
            ConfigurationError: an option the spec does not list; and what `write` raises.
            InputError: what `write` raises.
        """
        check_options(options, format_name=self.spec.name, known=self.spec.options)
        return self.write(frame, RenderRequest(basename, options, context))

    def write(self, frame: pd.DataFrame, request: RenderRequest) -> list[DataFile]:
        """The format's files for `frame`; `render` has checked the request's options."""
        raise NotImplementedError

    def not_unicode(self, basename: str) -> InputError:
        """The error for output `basename` whose text held a lone surrogate; nothing is delivered.

        Raise it `from None`: the codec error quotes the offending text.
        """
        return InputError(
            _(
                "{format} {basename}: een tekstwaarde is geen geldige Unicode (een "
                "losse surrogate); er is niets geleverd"
            ).format(format=self.spec.name, basename=repr(basename))
        )

    def agreement_problems(
        self,
        fields: tuple[str, ...],
        *,
        teacher_fields: tuple[str, ...],
        identifier: str,
        mode: str,
        profile: str | None,
    ) -> list[str]:
        """What an agreement using this format lacks or asks too much of, one line each.

        Called when the agreement loads; each line names the key and what is allowed
        (e.g. "fields: edexml heeft groepskey nodig"). The keywords are declared here
        once: a format says what it checks in `problems_of`.
        """
        return self.problems_of(
            AgreementAsk(
                fields=fields,
                teacher_fields=teacher_fields,
                identifier=identifier,
                mode=mode,
                profile=profile,
            )
        )

    def problems_of(self, ask: AgreementAsk) -> list[str]:
        """This format's `agreement_problems`; by default one row per pupil, nothing else."""
        return pupil_rows_only(
            self.spec.name, teacher_fields=ask.teacher_fields, profile=ask.profile
        )


def check_frame(frame: pd.DataFrame, *, format_name: str) -> None:
    """Refuse a frame whose columns cannot become a file header.

    Args:
        frame: the frame about to be rendered.
        format_name: the format's name, for the message.

    Raises:
        ConfigurationError: the frame has no columns, a column name that is not a
            non-empty string, or the same column twice.
    """
    columns = list(frame.columns)
    if not columns:
        raise ConfigurationError(
            _("{format_name}: de tabel heeft geen kolommen om te leveren").format(
                format_name=format_name,
            )
        )
    bad = [repr(name) for name in columns if not isinstance(name, str) or not name]
    if bad:
        raise ConfigurationError(
            _("{format_name}: kolomnamen moeten niet-lege teksten zijn, niet {value}").format(
                format_name=format_name,
                value=", ".join(bad),
            )
        )
    duplicates = sorted(name for name, count in Counter(columns).items() if count > 1)
    if duplicates:
        raise ConfigurationError(
            _("{format_name}: kolommen komen meer dan eens voor: {value}").format(
                format_name=format_name,
                value=", ".join(duplicates),
            )
        )


def check_options(options: Mapping[str, str], *, format_name: str, known: tuple[str, ...]) -> None:
    """Refuse options a format does not know, so that a typo is not silently ignored.

    Args:
        options: the options given for the format.
        format_name: the format's name, for the message.
        known: the option names the format accepts.

    Raises:
        ConfigurationError: an option is not in `known`; the message lists the known ones.
    """
    unknown = sorted(set(options) - set(known))
    if unknown:
        allowed = ", ".join(known) if known else _("geen")
        raise ConfigurationError(
            _("onbekende {format_name}-optie(s) {value}; bekende opties: {allowed}").format(
                format_name=format_name,
                value=", ".join(map(repr, unknown)),
                allowed=allowed,
            )
        )


def pupil_rows_only(
    format_name: str, *, teacher_fields: tuple[str, ...], profile: str | None
) -> list[str]:
    """Agreement problems of a flat format that writes one row per pupil and nothing else."""
    problems = []
    if teacher_fields:
        problems.append(
            _(
                "teacher_fields: {format_name} levert alleen leerlingen; gebruik format edexml of "
                "oneroster om leerkrachten te leveren"
            ).format(format_name=format_name)
        )
    if profile is not None:
        problems.append(
            _("format.profile: {format_name} heeft geen profielen; verwijder profile").format(
                format_name=format_name
            )
        )
    return problems


def arrow_text(column: pd.Series) -> pa.Array:
    """A pandas column as one Arrow large_string array, missing values null.

    Raises:
        UnicodeEncodeError: a value holds a lone surrogate; callers report that without
            the value.
    """
    dtype = column.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        # Already Arrow strings underneath: nothing is converted value by value.
        array = pa.array(column.array)
    else:
        # pandas turns anything into text; missing stays missing.
        array = pa.array(column.astype("str").array, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def clean_text(value: object) -> str | None:
    """A single value (a school header field) as stripped text; None when missing or blank."""
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None
