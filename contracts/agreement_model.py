"""The typed model of a supplier agreement: who receives what, why, how and where."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.formats.aggregaat import DEFAULT_K, MIN_K
from connectors.i18n import _
from connectors.quoting import quote
from contracts.catalog import FieldInfo, lookup_field
from contracts.classification import Classification
from contracts.codes import JAARGROEP

__all__ = [
    "Agreement",
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
]

_ID = r"^[a-z0-9][a-z0-9_-]*$"
# Names and ids are short; a longer value is refused before any message quotes it.
_NAME_LENGTH = 63


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
    consent_category: (
        Annotated[str, Field(pattern=r"^[a-z0-9_]+$", max_length=_NAME_LENGTH)] | None
    ) = None
    legal_reference: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> LegalBasis:
        if self.type is LegalBasisType.TOESTEMMING and not self.consent_category:
            raise ValueError(
                _("toestemming vraagt een consent_category (bijvoorbeeld beeldmateriaal_website)")
            )
        if self.type is LegalBasisType.WETTELIJKE_PLICHT and not self.legal_reference:
            raise ValueError(_("wettelijke_plicht vraagt een legal_reference (het wetsartikel)"))
        if self.type is not LegalBasisType.TOESTEMMING and self.consent_category:
            raise ValueError(_("consent_category hoort alleen bij type toestemming"))
        return self


class AgreementTerms(_Strict):
    """The signed agreement this delivery rests on."""

    reference: Annotated[str, Field(min_length=1)]
    valid_from: date
    valid_until: date | None = None

    @model_validator(mode="after")
    def _order(self) -> AgreementTerms:
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(_("valid_until ligt vóór valid_from"))
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
                _("onbekende jaargroep {unknown}; toegestaan: {allowed}").format(
                    unknown=", ".join(quote(j) for j in unknown[:3]), allowed=", ".join(JAARGROEP)
                )
            )
        return self


class SharedField(_Strict):
    """One allowed field and the purpose it serves."""

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=_NAME_LENGTH)]
    purpose: Annotated[str, Field(min_length=3)]


class OutputFormat(_Strict):
    """How the data files are written."""

    type: Literal["csv", "parquet", "edexml", "oneroster", "aggregaat"] = "csv"
    separator: Literal[";", ",", "\t", "|"] = ";"
    # A named output profile of the format, e.g. "uwlr-smalle-set" for edexml.
    profile: Annotated[str, Field(max_length=_NAME_LENGTH)] | None = None
    # aggregaat: the smallest count published; a cell below it is hidden.
    k: Annotated[int, Field(ge=MIN_K, le=1000)] | None = None

    @model_validator(mode="after")
    def _separator_only_for_csv(self) -> OutputFormat:
        if self.type != "csv" and "separator" in self.model_fields_set:
            raise ValueError(
                _("separator hoort alleen bij type csv, niet bij {type}").format(type=self.type)
            )
        if self.type != "aggregaat" and self.k is not None:
            raise ValueError(
                _("k hoort alleen bij type aggregaat, niet bij {type}").format(type=self.type)
            )
        return self


class FolderDropSettings(_Strict):
    """A delivery folder: under the run's --drop folder, in <supplier id>/."""

    type: Literal["folder"] = "folder"


class SftpDropSettings(_Strict):
    """An SFTP server the supplier picks its deliveries up from.

    The password or private key is never written here: `secret` names it, and the run
    looks it up in the settings or a Prefect Secret block.
    """

    type: Literal["sftp"]
    host: Annotated[str, Field(min_length=1)]
    port: Annotated[int, Field(ge=1, le=65535)] = 22
    username: Annotated[str, Field(min_length=1)]
    # Remote folder the supplier folders go under ("." is the login folder).
    path: str = "."
    # The server's public host key(s), as in known_hosts: "ssh-ed25519 AAAA...".
    # Pinned: an unknown or changed key refuses to deliver.
    host_key: list[Annotated[str, Field(pattern=r"^(ssh|ecdsa)-[a-z0-9-]+ [A-Za-z0-9+/=]+( .*)?$")]]
    # Name of the secret holding the password or the private key.
    secret: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
    retries: Annotated[int, Field(ge=0, le=10)] = 3

    @model_validator(mode="before")
    @classmethod
    def _needs_host_key(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("host_key"):
            raise ValueError(
                _(
                    "een SFTP-drop vraagt host_key: de publieke sleutel van de server zoals in "
                    "known_hosts (bijvoorbeeld uit `ssh-keyscan -t ed25519 HOST`, nagevraagd bij "
                    "de leverancier), zodat een server die zich voordoet als de leverancier niets "
                    "krijgt"
                )
            )
        if isinstance(data, dict) and isinstance(data.get("host_key"), str):
            data = {**data, "host_key": [data["host_key"]]}
        return data


DropSettings = Annotated[FolderDropSettings | SftpDropSettings, Field(discriminator="type")]


class HoldThresholds(_Strict):
    """When a delivery waits for a person instead of going out.

    In percent of the pupils the supplier holds after its last delivery.
    """

    max_removed_pct: Annotated[float, Field(ge=0, le=100)] = 10.0
    max_changed_pct: Annotated[float, Field(ge=0, le=100)] = 50.0


class Encryption(_Strict):
    """Encrypt the data files for the supplier (age); the manifest stays readable."""

    age_recipient: Annotated[str, Field(pattern=r"^age1[0-9a-z]+$")]


class Schedule(_Strict):
    """When the supplier's deliveries run, if not at the default nightly time."""

    cron: str | None = None


class Agreement(_Strict):
    """A data-sharing agreement with one supplier."""

    id: Annotated[str, Field(pattern=_ID, max_length=_NAME_LENGTH)]
    name: Annotated[str, Field(min_length=1)]
    role: Role
    legal_basis: LegalBasis
    agreement: AgreementTerms
    purpose: Annotated[str, Field(min_length=3)]
    scope: Scope = Scope()
    identifier: IdentifierPolicy
    fields: Annotated[list[SharedField], Field(min_length=1)]
    # Teachers of the delivered groups, only in formats that carry them (edexml, oneroster).
    teacher_fields: list[SharedField] = []
    format: OutputFormat = OutputFormat()
    mode: Literal["full", "delta"] = "full"
    hold: HoldThresholds = HoldThresholds()
    encryption: Encryption | None = None
    drop: DropSettings = FolderDropSettings()
    schedule: Schedule = Schedule()
    # How long the supplier keeps the data (from its privacybijsluiter), in words for parents.
    supplier_retention: str | None = None
    # Where the recipient processes the data, in words for parents: "Nederland", "EER",
    # or a country. Required when the data leaves the EEA (doorgifte_buiten_eer).
    verwerkingslocatie: Annotated[str, Field(min_length=2, max_length=_NAME_LENGTH)] | None = None
    # The recipient (or a subprocessor) processes the data outside the EEA.
    doorgifte_buiten_eer: bool = False
    # How long a delivery stays in the drop folder before the run removes it.
    retention_days: Annotated[int, Field(ge=1, le=365)] = 30

    @property
    def field_names(self) -> list[str]:
        """The allow-list, in the agreement's order."""
        return [f.name for f in self.fields]

    @property
    def teacher_field_names(self) -> list[str]:
        """The teacher allow-list, in the agreement's order (empty: no teachers)."""
        return [f.name for f in self.teacher_fields]

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

    @property
    def aggregate_k(self) -> int:
        """The smallest count an aggregaat publishes (format.k, default 5)."""
        return self.format.k or DEFAULT_K

    @property
    def on_request(self) -> bool:
        """True when the agreement delivers only on a request (`sluis verstrek`), never nightly.

        A legal duty is to answer the authority's request, for the pupils it names; it is
        no reason to send the whole school every night.
        """
        return self.legal_duty

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


def classification_of(name: str) -> Classification | None:
    """Classification of a field name, or None when the name is unknown."""
    info = lookup_field(name)
    return info.classification if info else None
