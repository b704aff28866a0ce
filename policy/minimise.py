"""Minimisation to the allow-list, and the strict output contract checked before writing."""

from __future__ import annotations

import pandas as pd

from connectors.errors import PolicyError
from connectors.i18n import _
from contracts.agreements import Agreement
from contracts.catalog import lookup_field
from contracts.classification import denial_reason

__all__ = ["check_output", "minimise"]


def minimise(frame: pd.DataFrame, agreement: Agreement) -> pd.DataFrame:
    """Keep exactly the agreement's fields, in its order; nothing else survives."""
    missing = [name for name in agreement.field_names if name not in frame.columns]
    if missing:
        raise PolicyError(
            _("{supplier}: de velden {fields} zijn niet voorbereid voor levering").format(
                supplier=agreement.id, fields=", ".join(missing)
            )
        )
    return frame.loc[:, agreement.field_names].reset_index(drop=True)


def check_output(frame: pd.DataFrame, agreement: Agreement) -> None:
    """Fail unless every column is on the allow-list and none is denied.

    This runs on what is about to be written, independently of how it was built: a bug
    upstream must stop the delivery, not leak a column.

    Raises:
        PolicyError: naming the supplier and the offending column names.
    """
    allowed = set(agreement.field_names)
    extra = ", ".join(str(c) for c in frame.columns if c not in allowed)
    if extra:
        raise PolicyError(
            _("{supplier}: de uitvoer heeft kolommen buiten de overeenkomst: {extra}").format(
                supplier=agreement.id, extra=extra
            )
        )
    for column in frame.columns:
        info = lookup_field(str(column))
        reason = (
            _("onbekend veld")
            if info is None
            else denial_reason(info.classification, legal_duty=agreement.legal_duty)
        )
        if reason:
            raise PolicyError(
                _("{supplier}: uitvoerkolom {column} geweigerd: {reason}").format(
                    supplier=agreement.id, column=column, reason=reason
                )
            )
