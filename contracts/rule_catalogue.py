"""Every rule a quarantine report row can name, per subject, from the contracts themselves.

Read from the pandera schemas (so a new check cannot be missed) plus the rules validation
adds beside them; tests use it to show that every rule has a hint a person can act on.
"""

from __future__ import annotations

from functools import cache

import pandera.pandas as pa

from connectors.sources.base import SOURCE_FILE, SOURCE_LINE
from contracts.consents import ConsentRecord
from contracts.groups import GroupRecord
from contracts.pupils import PupilRecord
from contracts.rules import CONSENT_RULE_HINTS, CONSENT_SUBJECT, RULE_HINTS
from contracts.validation import rule_name

__all__ = ["rule_catalogue"]

# Provenance columns are filled by the readers; a gap there is a defect, never a row.
_STRUCTURAL = {SOURCE_FILE, SOURCE_LINE}


def _schema_rules(schema: pa.DataFrameSchema) -> set[str]:
    rules: set[str] = set()
    for name, column in schema.columns.items():
        if name in _STRUCTURAL:
            continue
        if not column.nullable:
            rules.add(f"{name}_required")
        if column.unique:
            rules.add(f"{name}_unique")
        rules |= {rule_name(name, check.name) for check in column.checks}
    rules |= {rule_name("", check.name) for check in schema.checks}
    return rules


@cache
def rule_catalogue() -> dict[str, frozenset[str]]:
    """The rule ids per report subject (leerling, groep, toestemming)."""
    return {
        "leerling": frozenset(_schema_rules(PupilRecord.to_schema()) | set(RULE_HINTS)),
        "groep": frozenset(_schema_rules(GroupRecord.to_schema())),
        CONSENT_SUBJECT: frozenset(
            _schema_rules(ConsentRecord.to_schema()) | set(CONSENT_RULE_HINTS)
        ),
    }
