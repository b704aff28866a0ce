"""Apply one agreement to one validated school: scope, consent, identifiers, fields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from contracts.agreements import Agreement, IdentifierPolicy
from contracts.catalog import CONSENT_FLAG_PREFIX
from contracts.validation import ValidatedSchool
from policy.consent import consented_keys, current_consents
from policy.minimise import check_output, minimise
from policy.pseudonymise import birth_year, is_persistent_key, pseudonym
from policy.reasons import Reason
from policy.scope import has_left, outside_scope

__all__ = ["Counts", "SupplierCut", "apply_agreement"]


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
        delivered_keys: LAS keys of the delivered pupils (for lineage hashing, never
            written as such).
        withheld: LAS key -> reason code for every valid pupil not delivered.
    """

    frame: pd.DataFrame
    counts: Counts
    delivered_keys: pd.Series
    withheld: pd.Series = field(repr=False)


def _withhold_reasons(
    pupils: pd.DataFrame,
    agreement: Agreement,
    school: ValidatedSchool,
    today: date,
    erased: frozenset[str],
) -> pd.Series:
    """One reason per pupil (the first that applies) or NA for pupils that pass."""
    left = has_left(pupils, today) & (not agreement.scope.include_left)
    scope = outside_scope(pupils, agreement.scope.jaargroepen, agreement.scope.vestigingen)
    if agreement.consent_category:
        standing = current_consents(school.consents, school.schooljaar)
        yes = consented_keys(standing, agreement.consent_category)
        no_consent = ~pupils["leerlingkey"].isin(yes)
    else:
        no_consent = pd.Series(False, index=pupils.index)
    persistent = is_persistent_key(pupils["leerlingkey"])
    if agreement.identifier is IdentifierPolicy.ECKID:
        no_id = pupils["eckid"].isna()
    elif agreement.identifier is IdentifierPolicy.ECKID_OR_KEY:
        no_id = pupils["eckid"].isna() & ~persistent
    else:
        no_id = ~persistent
    conditions = [
        pupils["leerlingkey"].isin(list(erased)).to_numpy(),
        left.to_numpy(),
        scope.to_numpy(),
        no_consent.to_numpy(),
        no_id.to_numpy(),
    ]
    choices = [
        Reason.ERASED.value,
        Reason.LEFT_SCHOOL.value,
        Reason.OUT_OF_SCOPE.value,
        Reason.NO_CONSENT.value,
        Reason.NO_IDENTIFIER.value,
    ]
    reasons = np.select(conditions, choices, default="")
    return pd.Series(reasons, index=pupils.index, dtype="str").replace("", pd.NA)


def _prepared(
    passed: pd.DataFrame, school: ValidatedSchool, agreement: Agreement, secret: bytes | None
) -> pd.DataFrame:
    """Add the school and derived columns the agreement asks for, and nothing more."""
    wanted = set(agreement.field_names)
    out = passed.copy()
    # A '#' key is a dummy the administration may change: never hand it out as a key.
    out["leerlingkey"] = out["leerlingkey"].where(is_persistent_key(out["leerlingkey"]))
    for name in ("brincode", "dependancecode", "schooljaar"):
        if name in wanted:
            out[name] = pd.Series(school.school.get(name), index=out.index, dtype="str")
    if "geboortejaar" in wanted:
        out["geboortejaar"] = birth_year(out["geboortedatum"])
    if "pseudoniem" in wanted:
        if secret is None:
            raise ValueError(f"{agreement.id}: pseudoniem needs a pseudonym secret")
        out["pseudoniem"] = pseudonym(passed["leerlingkey"], secret)
    flags = [name for name in wanted if name.startswith(CONSENT_FLAG_PREFIX)]
    if flags:
        standing = current_consents(school.consents, school.schooljaar)
        for name in flags:
            yes = consented_keys(standing, name.removeprefix(CONSENT_FLAG_PREFIX))
            out[name] = np.where(passed["leerlingkey"].isin(yes), "ja", "nee")
            out[name] = out[name].astype("str")
    return out


def apply_agreement(
    school: ValidatedSchool,
    agreement: Agreement,
    *,
    today: date,
    secret: bytes | None = None,
    erased: frozenset[str] = frozenset(),
) -> SupplierCut:
    """Decide what one supplier receives from one school.

    Args:
        school: the validated school.
        agreement: the supplier's agreement.
        today: the run date (who has left is judged against it).
        secret: the supplier's pseudonym secret, needed only for `pseudoniem`.
        erased: LAS keys of pupils whose data must no longer be shared.

    Returns:
        The minimised frame, checked against the strict output contract, and the counts.
    """
    pupils = school.pupils
    reasons = _withhold_reasons(pupils, agreement, school, today, erased)
    passing = reasons.isna()
    frame = minimise(_prepared(pupils.loc[passing], school, agreement, secret), agreement)
    check_output(frame, agreement)
    withheld = reasons.loc[~passing]
    by_reason = {str(k): int(v) for k, v in withheld.value_counts().sort_index().items()}
    counts = Counts(
        input=school.input_pupils,
        delivered=len(frame),
        withheld=by_reason,
        quarantined=school.quarantined_pupils,
    )
    return SupplierCut(
        frame=frame,
        counts=counts,
        delivered_keys=pupils.loc[passing, "leerlingkey"].reset_index(drop=True),
        withheld=pd.Series(
            withheld.to_numpy(), index=pupils.loc[~passing, "leerlingkey"].to_numpy()
        ),
    )
