"""Typed model of a supplier agreement, its YAML loader and the deny-list check on load.

An agreement is a declaration: who receives what, why, on which legal basis, in which
format and where. Loading refuses anything the deny-list forbids, with the file, the key
and what is allowed, so a wrong agreement never reaches a run.
"""

from __future__ import annotations

import hashlib
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors.errors import AgreementError, UsageError
from contracts.catalog import FieldInfo, lookup_field
from contracts.classification import Classification, denial_reason
from contracts.codes import JAARGROEP

__all__ = [
    "BUNDLED_AGREEMENTS",
    "Agreement",
    "IdentifierPolicy",
    "LegalBasisType",
    "LoadedAgreement",
    "Role",
    "load_agreement",
    "load_agreements",
    "select_agreements",
]

BUNDLED_AGREEMENTS = Path(__file__).resolve().parent / "suppliers"

_ID = r"^[a-z0-9][a-z0-9_-]*$"


class Role(StrEnum):
    """The recipient's role under the GDPR."""

    VERWERKER = "verwerker"  # processor, under a verwerkersovereenkomst
    DERDE = "derde"  # third party, receives on its own account
    OVERHEID = "overheid"  # authority with a legal duty


class LegalBasisType(StrEnum):
    """The ground the sharing rests on."""

    OVEREENKOMST = "overeenkomst"
    TOESTEMMING = "toestemming"
    WETTELIJKE_PLICHT = "wettelijke_plicht"


class IdentifierPolicy(StrEnum):
    """Which key identifies a pupil toward the supplier."""

    ECKID = "eckid"  # only pupils with an ECK iD
    ECKID_OR_KEY = "eckid_or_key"  # ECK iD, else the persistent LAS key (UWLR 2.3)
    KEY = "key"  # the persistent LAS key
    PSEUDONIEM = "pseudoniem"  # a keyed hash per supplier


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LegalBasis(_Strict):
    """Legal basis with what it needs: a consent category or a legal reference."""

    type: LegalBasisType
    consent_category: Annotated[str, Field(pattern=r"^[a-z0-9_]+$")] | None = None
    legal_reference: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> LegalBasis:
        if self.type is LegalBasisType.TOESTEMMING and not self.consent_category:
            raise ValueError("toestemming needs consent_category (e.g. beeldmateriaal_website)")
        if self.type is LegalBasisType.WETTELIJKE_PLICHT and not self.legal_reference:
            raise ValueError("wettelijke_plicht needs legal_reference (the article of law)")
        if self.type is not LegalBasisType.TOESTEMMING and self.consent_category:
            raise ValueError("consent_category only goes with type toestemming")
        return self


class AgreementTerms(_Strict):
    """The signed agreement this delivery rests on."""

    reference: Annotated[str, Field(min_length=1)]
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _order(self) -> AgreementTerms:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError("valid_until is before valid_from")
        return self


class Scope(_Strict):
    """Which pupils the agreement covers."""

    jaargroepen: list[str] | None = None
    vestigingen: list[str] | None = None
    include_left: bool = False

    @model_validator(mode="after")
    def _known_jaargroepen(self) -> Scope:
        unknown = [j for j in self.jaargroepen or [] if j not in JAARGROEP]
        if unknown:
            raise ValueError(
                f"unknown jaargroep {', '.join(unknown)}; allowed: {', '.join(JAARGROEP)}"
            )
        return self


class SharedField(_Strict):
    """One allowed field and the purpose it serves."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    purpose: Annotated[str, Field(min_length=3)]


class OutputFormat(_Strict):
    """How the data files are written."""

    type: Literal["csv", "parquet"] = "csv"
    separator: Literal[";", ",", "\t", "|"] = ";"


class DropSettings(_Strict):
    """Where the delivery goes."""

    # The folder drop publishes under the run's --drop folder, in <supplier id>/.
    type: Literal["folder"] = "folder"


class Schedule(_Strict):
    """When the supplier's deliveries run, if not at the default nightly time."""

    cron: str | None = None


class Agreement(_Strict):
    """A data-sharing agreement with one supplier."""

    id: Annotated[str, Field(pattern=_ID)]
    name: Annotated[str, Field(min_length=1)]
    role: Role
    legal_basis: LegalBasis
    agreement: AgreementTerms
    purpose: Annotated[str, Field(min_length=3)]
    scope: Scope = Scope()
    identifier: IdentifierPolicy
    fields: Annotated[list[SharedField], Field(min_length=1)]
    format: OutputFormat = OutputFormat()
    mode: Literal["full", "delta"] = "full"
    drop: DropSettings = DropSettings()
    schedule: Schedule = Schedule()
    # How long the supplier keeps the data (from its privacybijsluiter), in words for parents.
    supplier_retention: str | None = None
    # How long a delivery stays in the drop folder before the run removes it.
    retention_days: Annotated[int, Field(ge=1, le=365)] = 30

    @property
    def field_names(self) -> list[str]:
        """The allow-list, in the agreement's order."""
        return [f.name for f in self.fields]

    @property
    def consent_category(self) -> str | None:
        """The consent category when the legal basis is consent."""
        return self.legal_basis.consent_category

    @property
    def legal_duty(self) -> bool:
        """True for an authority with a legal duty and a named legal reference."""
        return self.legal_basis.type is LegalBasisType.WETTELIJKE_PLICHT and bool(
            self.legal_basis.legal_reference
        )

    def is_valid_on(self, day: date) -> bool:
        """Whether the agreement is in force on `day`; an expired one delivers nothing."""
        terms = self.agreement
        return terms.valid_from <= day and (terms.valid_until is None or day <= terms.valid_until)

    def field_info(self) -> dict[str, FieldInfo]:
        """Catalog entries of the allowed fields (all known: checked on load)."""
        return {name: info for name in self.field_names if (info := lookup_field(name))}


class LoadedAgreement(BaseModel):
    """An agreement with the file it came from and the hash of that file."""

    model_config = ConfigDict(frozen=True)

    agreement: Agreement
    path: Path
    sha256: str


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location with field names instead of list positions."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            entry = node[item]
            label = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"[{label}]" if label else f"[{item}]")
            node = entry
            continue
        if isinstance(item, str) and "[" in item:  # pydantic's tag for Literal[...] choices
            continue
        parts.append(f".{item}" if parts else str(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def _deny_list_problems(agreement: Agreement) -> list[str]:
    problems = []
    seen: set[str] = set()
    for shared in agreement.fields:
        if shared.name in seen:
            problems.append(f"fields[{shared.name}]: listed twice")
        seen.add(shared.name)
        info = lookup_field(shared.name)
        if info is None:
            problems.append(
                f"fields[{shared.name}]: unknown field; allowed are the canonical names in "
                "contracts/catalog.py (e.g. leerlingkey, eckid, roepnaam, achternaam, "
                "voorvoegsel, geboortedatum, geboortejaar, geslacht, jaargroep, groepskey, "
                "groepsnaam, brincode, pseudoniem, toestemming_<categorie>)"
            )
            continue
        reason = denial_reason(info.classification, legal_duty=agreement.legal_duty)
        if reason:
            problems.append(f"fields[{shared.name}]: denied: {reason}")
    if agreement.identifier is IdentifierPolicy.PSEUDONIEM and "pseudoniem" not in seen:
        problems.append("identifier: pseudoniem needs the field pseudoniem in fields")
    if agreement.role is not Role.OVERHEID and agreement.legal_duty:
        problems.append("legal_basis: wettelijke_plicht is only for role overheid")
    return problems


def load_agreement(path: Path) -> LoadedAgreement:
    """Load and check one agreement file.

    Raises:
        AgreementError: one line per problem, each naming the file, the key and what is
            allowed.
    """
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise AgreementError(f"{path}: cannot read agreement ({exc.strerror})") from None
    try:
        data = yaml.safe_load(raw_bytes.decode("utf-8"))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise AgreementError(f"{path}: not valid YAML{where}; fix the syntax") from None
    if not isinstance(data, dict):
        raise AgreementError(f"{path}: expected a mapping of keys (id, name, role, ...)")
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as exc:
        lines = [
            f"{path}: {_location(err['loc'], data)}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise AgreementError("; ".join(lines)) from None
    if agreement.id != path.stem:
        raise AgreementError(f"{path}: id: '{agreement.id}' must equal the file name '{path.stem}'")
    problems = _deny_list_problems(agreement)
    if problems:
        raise AgreementError("; ".join(f"{path}: {p}" for p in problems))
    return LoadedAgreement(
        agreement=agreement, path=path, sha256=hashlib.sha256(raw_bytes).hexdigest()
    )


def _check_known(known: list[str], only: list[str]) -> None:
    unknown = [s for s in only if s not in known]
    if unknown:
        raise UsageError(
            f"unknown supplier {', '.join(repr(u) for u in unknown)}; "
            f"known suppliers: {', '.join(known) or '(none)'}"
        )


def select_agreements(
    loaded: list[LoadedAgreement], only: list[str] | None
) -> list[LoadedAgreement]:
    """Keep the agreements of the named supplier ids (all when `only` is empty).

    Raises:
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    if not only:
        return loaded
    _check_known([a.agreement.id for a in loaded], only)
    return [a for a in loaded if a.agreement.id in only]


def load_agreements(folder: Path, only: list[str] | None = None) -> list[LoadedAgreement]:
    """Load every `*.yaml` agreement in a folder, or only the named supplier ids.

    Raises:
        AgreementError: a file is invalid.
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    if not folder.is_dir():
        raise AgreementError(f"{folder}: agreements folder not found")
    paths = sorted(folder.glob("*.yaml"))
    if only:
        _check_known([p.stem for p in paths], only)
        paths = [p for p in paths if p.stem in only]
    return [load_agreement(p) for p in paths]


def classification_of(name: str) -> Classification | None:
    """Classification of a field name, or None when the name is unknown."""
    info = lookup_field(name)
    return info.classification if info else None
