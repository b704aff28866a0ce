"""Apply one agreement to validated schools: scope, consent, identifiers, fields.

Works on a batch of schools at once, as one frame partitioned by a school column, so the
cost is per pupil and not per school; the result is split per school at the end, because
every school gets its own delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from connectors.identifiers import passes_elfproef
from contracts.agreements import Agreement, IdentifierPolicy, LegalBasisType
from contracts.catalog import CONSENT_FLAG_PREFIX
from contracts.validation import ValidatedSchool
from policy.batch import SCHOOL, BatchConsents, SchoolBatch, member_ids, positions_by_school
from policy.format_needs import incomplete_for_format
from policy.minimise import check_output, minimise
from policy.pseudonymise import birth_year, is_persistent_key, pseudonym
from policy.reasons import Reason
from policy.scope import has_left, outside_scope

__all__ = [
    "Counts",
    "SupplierCut",
    "apply_agreement",
    "apply_agreement_batch",
    "member_ids",
]

_SCHOOL_FIELDS = ("brincode", "dependancecode", "schooljaar")


@dataclass(frozen=True)
class Counts:
    """Where every input pupil went. input = delivered + sum(withheld) + quarantined."""

    input: int
    delivered: int
    withheld: dict[str, int]
    quarantined: int

    def as_dict(self) -> dict[str, object]:
        """The manifest/lineage form."""
        return {
            "input": self.input,
            "delivered": self.delivered,
            "withheld": dict(self.withheld),
            "quarantined": self.quarantined,
        }

    @property
    def balanced(self) -> bool:
        """True when nothing was lost."""
        return self.input == self.delivered + sum(self.withheld.values()) + self.quarantined


@dataclass(frozen=True)
class SupplierCut:
    """What one supplier gets from one school, and why the rest does not go.

    Attributes:
        frame: the rows to deliver, exactly the agreement's columns.
        counts: the balance of input, delivered, withheld by reason and quarantined.
        delivered_keys: LAS keys of the delivered pupils (never written as such).
        withheld: LAS key -> reason code for every valid pupil not delivered.
        delivered_ids: membership ids (keyed hashes) of the delivered pupils, for the
            lineage record of who was in this delivery; empty without a membership secret.
        delivered_row_hashes: per delivered pupil, a keyed hash of the delivered row, so
            lineage can tell when a corrected value reached the supplier.
    """

    frame: pd.DataFrame
    counts: Counts
    delivered_keys: pd.Series
    withheld: pd.Series = field(repr=False)
    delivered_ids: pd.Series = field(default_factory=lambda: pd.Series([], dtype="str"))
    delivered_row_hashes: pd.Series = field(default_factory=lambda: pd.Series([], dtype="str"))


def _bsn_as_key(pupils: pd.DataFrame, agreement: Agreement) -> pd.Series:
    """Pupils the supplier would get a BSN from, as their key or user name.

    A leerlingkey or gebruikersnaam that passes the elfproef is treated as the national
    number it probably is: only a legal duty may receive it. A key travels only where the
    agreement lists it (as a field, which is also how every format writes it as the
    identifier); a pseudonymising supplier gets a keyed hash instead and is not affected.
    """
    hit = pd.Series(False, index=pupils.index)
    if agreement.legal_basis.type is LegalBasisType.WETTELIJKE_PLICHT:
        return hit
    for name in ("leerlingkey", "gebruikersnaam"):
        if name in agreement.field_names:
            hit |= passes_elfproef(pupils[name])
    return hit


def row_hashes(frame: pd.DataFrame, secret: bytes) -> pd.Series:
    """Keyed hash of each delivered row (all its cells, in order; missing as empty)."""
    if frame.empty:
        return pd.Series([], dtype="str")
    # One pyarrow join of every column, missing as empty: what str.cat would give after
    # fillna(""), without a pandas round trip per column.
    cells = [pa.array(frame[c].astype("str"), type=pa.large_string()) for c in frame.columns]
    joined = pc.binary_join_element_wise(
        *cells, pa.scalar("\x1f", pa.large_string()), null_handling="replace", null_replacement=""
    )
    return pseudonym(pd.Series(joined.to_pylist(), dtype="str"), secret)


def _withhold_reasons(
    pupils: pd.DataFrame,
    agreement: Agreement,
    consents: BatchConsents,
    today: date,
    erased: pd.Series,
) -> pd.Series:
    """One reason per pupil (the first that applies, in Reason's order) or NA if it passes."""
    left = has_left(pupils, today) & (not agreement.scope.include_left)
    scope = outside_scope(pupils, agreement.scope.jaargroepen, agreement.scope.vestigingen)
    none = pd.Series(False, index=pupils.index)
    unreadable, no_consent = none, none
    if agreement.consent_category:
        unreadable = consents.withdrawn(agreement.consent_category, pupils)
        no_consent = ~consents.yes(agreement.consent_category, pupils)
    persistent = is_persistent_key(pupils["leerlingkey"])
    if agreement.identifier is IdentifierPolicy.ECKID:
        no_id = pupils["eckid"].isna()
    elif agreement.identifier is IdentifierPolicy.ECKID_OR_KEY:
        no_id = pupils["eckid"].isna() & ~persistent
    else:
        no_id = ~persistent
    no_id = no_id | _bsn_as_key(pupils, agreement)
    reason_of = {
        Reason.ERASED: erased,
        Reason.LEFT_SCHOOL: left,
        Reason.OUT_OF_SCOPE: scope,
        Reason.CONSENT_UNREADABLE: unreadable,
        Reason.NO_CONSENT: no_consent,
        Reason.NO_IDENTIFIER: no_id,
        Reason.INCOMPLETE_FOR_FORMAT: incomplete_for_format(pupils, agreement),
    }
    ordered = [r for r in Reason if r in reason_of]
    reasons = np.select(
        [reason_of[r].to_numpy(dtype=bool) for r in ordered],
        [r.value for r in ordered],
        default="",
    )
    return pd.Series(reasons, index=pupils.index, dtype="str").replace("", pd.NA)


def _prepared(
    passed: pd.DataFrame,
    batch: SchoolBatch,
    agreement: Agreement,
    consents: BatchConsents,
    secret: bytes | None,
) -> pd.DataFrame:
    """Add the school and derived columns the agreement asks for, and nothing more."""
    wanted = set(agreement.field_names)
    out = passed.copy()
    # A '#' key is a dummy the administration may change: never hand it out as a key.
    out["leerlingkey"] = out["leerlingkey"].where(is_persistent_key(out["leerlingkey"]))
    for name in _SCHOOL_FIELDS:
        if name in wanted:
            out[name] = batch.school_values(out[SCHOOL], name)
    if "geboortejaar" in wanted:
        out["geboortejaar"] = birth_year(out["geboortedatum"])
    if "pseudoniem" in wanted:
        if secret is None:
            raise ValueError(f"{agreement.id}: pseudoniem needs a pseudonym secret")
        # LAS keys are unique per school only: the school is part of what is hashed, or
        # pupil 1001 of two schools would be one person to the supplier.
        brin = batch.school_values(passed[SCHOOL], "brincode").fillna("")
        out["pseudoniem"] = pseudonym(brin.str.cat(passed["leerlingkey"], sep=":"), secret)
    for name in sorted(n for n in wanted if n.startswith(CONSENT_FLAG_PREFIX)):
        yes = consents.yes(name.removeprefix(CONSENT_FLAG_PREFIX), passed)
        out[name] = pd.Series(np.where(yes.to_numpy(), "ja", "nee"), index=out.index, dtype="str")
    return out


def apply_agreement_batch(
    schools: Sequence[ValidatedSchool] | SchoolBatch,
    agreement: Agreement,
    *,
    today: date,
    secret: bytes | None = None,
    erased: frozenset[str] = frozenset(),
    membership_secret: bytes | None = None,
) -> list[SupplierCut]:
    """Decide what one supplier receives from each school of a batch.

    Args:
        schools: validated schools, or a SchoolBatch of them that other agreements share
            (its pupils, consents and membership ids are then built once).
        agreement: the supplier's agreement.
        today: the run date (who has left is judged against it).
        secret: the supplier's pseudonym secret, needed only for `pseudoniem`.
        erased: membership ids of pupils whose data must no longer be shared.
        membership_secret: the secret of membership ids; needed when `erased` is not
            empty, and to report who was delivered.

    Returns:
        One cut per school, in order: the minimised frame, checked against the strict
        output contract, and the counts.
    """
    batch = schools if isinstance(schools, SchoolBatch) else SchoolBatch(schools)
    pupils = batch.pupils
    consents = batch.consents
    if membership_secret is not None:
        ids = batch.member_ids(membership_secret)
    elif erased:
        raise ValueError("erasures need the membership secret to recognise pupils")
    else:
        ids = pd.Series("", index=pupils.index, dtype="str")
    reasons = _withhold_reasons(pupils, agreement, consents, today, ids.isin(erased))
    passing = reasons.isna()
    prepared = _prepared(pupils.loc[passing], batch, agreement, consents, secret)
    # Every school's rows by position, found once.
    owner = pupils[SCHOOL].to_numpy()
    passing_at = passing.to_numpy()
    passed_of = positions_by_school(owner[passing_at], len(batch))
    withheld_of = positions_by_school(owner[~passing_at], len(batch))
    withheld_all = reasons.loc[~passing]
    keys_passed = pupils.loc[passing, "leerlingkey"]
    keys_withheld_all = pupils.loc[~passing, "leerlingkey"]
    ids_passed = ids.loc[passing]
    # Minimised once for the batch (positions stay those of `prepared`), then split: each
    # school's take then copies only the delivered columns. Every school's frame is still
    # checked on its own, as it is about to be written.
    minimised = minimise(prepared, agreement)
    # A row's hash reads that row's cells alone: hashed once for the batch, then split.
    hashes = (
        row_hashes(minimised, membership_secret)
        if membership_secret is not None
        else pd.Series([], dtype="str")
    )
    cuts = []
    for i, school in enumerate(batch.schools):
        frame = minimised.take(passed_of[i]).reset_index(drop=True)
        check_output(frame, agreement)
        withheld = withheld_all.take(withheld_of[i])
        keys_withheld = keys_withheld_all.take(withheld_of[i])
        counts = Counts(
            input=school.input_pupils,
            delivered=len(frame),
            withheld={str(k): int(v) for k, v in withheld.value_counts().sort_index().items()},
            quarantined=school.quarantined_pupils,
        )
        cuts.append(
            SupplierCut(
                frame=frame,
                counts=counts,
                delivered_keys=keys_passed.take(passed_of[i]).reset_index(drop=True),
                withheld=pd.Series(withheld.to_numpy(), index=keys_withheld.to_numpy()),
                delivered_ids=ids_passed.take(passed_of[i]).reset_index(drop=True)
                if membership_secret is not None
                else pd.Series([], dtype="str"),
                delivered_row_hashes=hashes.take(passed_of[i]).reset_index(drop=True)
                if membership_secret is not None
                else pd.Series([], dtype="str"),
            )
        )
    return cuts


def apply_agreement(
    school: ValidatedSchool,
    agreement: Agreement,
    *,
    today: date,
    secret: bytes | None = None,
    erased: frozenset[str] = frozenset(),
    membership_secret: bytes | None = None,
) -> SupplierCut:
    """Decide what one supplier receives from one school (a batch of one)."""
    return apply_agreement_batch(
        [school],
        agreement,
        today=today,
        secret=secret,
        erased=erased,
        membership_secret=membership_secret,
    )[0]
