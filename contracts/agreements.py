"""Supplier agreements: the typed model, its YAML loader and the deny-list check on load.

An agreement is a declaration: who receives what, why, on which legal basis, in which
format and where. Loading refuses anything the deny-list forbids, with the file, the key
and what is allowed, so a wrong agreement never reaches a run. The model is in
`agreement_model`, the checks in `agreement_checks`, loading in `agreement_loading`;
this module keeps the names callers import.
"""

from contracts.agreement_loading import (
    BUNDLED_AGREEMENTS,
    AgreementProblem,
    AgreementSet,
    load_agreement,
    load_agreement_set,
    load_agreements,
    select_agreements,
)
from contracts.agreement_model import (
    Agreement,
    AgreementTerms,
    DropSettings,
    Encryption,
    FolderDropSettings,
    HoldThresholds,
    IdentifierPolicy,
    LegalBasis,
    LegalBasisType,
    LoadedAgreement,
    OutputFormat,
    Role,
    Schedule,
    Scope,
    SftpDropSettings,
    SharedField,
    classification_of,
)

__all__ = [
    "BUNDLED_AGREEMENTS",
    "Agreement",
    "AgreementProblem",
    "AgreementSet",
    "AgreementTerms",
    "DropSettings",
    "Encryption",
    "FolderDropSettings",
    "HoldThresholds",
    "IdentifierPolicy",
    "LegalBasis",
    "LegalBasisType",
    "LoadedAgreement",
    "OutputFormat",
    "Role",
    "Schedule",
    "Scope",
    "SftpDropSettings",
    "SharedField",
    "classification_of",
    "load_agreement",
    "load_agreement_set",
    "load_agreements",
    "select_agreements",
]
