"""Typed model of a supplier agreement, its YAML loader and the deny-list check on load.

An agreement is a declaration: who receives what, why, on which legal basis, in which
format and where. Loading refuses anything the deny-list forbids, with the file, the key
and what is allowed, so a wrong agreement never reaches a run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connectors import safe_yaml
from connectors.errors import AgreementError, ConfigurationError, UsageError
from connectors.formats.aggregaat import DEFAULT_K, MIN_K
from connectors.formats.encryption import parse_recipient
from connectors.formats.registry import get_format
from connectors.i18n import _, ngettext
from connectors.pydantic_messages import error_message
from connectors.quoting import quote, short
from contracts.agreement_location import location_problems
from contracts.catalog import FieldInfo, lookup_field, lookup_teacher_field, teacher_catalog
from contracts.classification import Classification, denial_reason
from contracts.codes import JAARGROEP

__all__ = [
    "BUNDLED_AGREEMENTS",
    "Agreement",
    "AgreementProblem",
    "AgreementSet",
    "DropSettings",
    "FolderDropSettings",
    "HoldThresholds",
    "IdentifierPolicy",
    "LegalBasisType",
    "LoadedAgreement",
    "Role",
    "SftpDropSettings",
    "load_agreement",
    "load_agreement_set",
    "load_agreements",
    "select_agreements",
]

BUNDLED_AGREEMENTS = Path(__file__).resolve().parent / "suppliers"

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


def _location(loc: tuple[Any, ...], data: Any) -> str:
    """Render a pydantic error location with field names instead of list positions.

    Keys and names come from the file, so each is shortened: a location never grows with
    what the file holds.
    """
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            entry = node[item]
            label = entry.get("name") if isinstance(entry, dict) else None
            parts.append(f"[{short(label)}]" if isinstance(label, str) and label else f"[{item}]")
            node = entry
            continue
        if isinstance(item, str) and "[" in item:  # pydantic's tag for Literal[...] choices
            continue
        parts.append(f".{short(item)}" if parts else short(item))
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or _("(hoogste niveau)")


def _deny_list_problems(agreement: Agreement) -> list[str]:
    problems = _field_list_problems(
        "fields",
        agreement.fields,
        lookup_field,
        _(
            "toegestaan zijn de namen in contracts/catalog.py (bijvoorbeeld leerlingkey, eckid, "
            "roepnaam, achternaam, voorvoegsel, geboortedatum, geboortejaar, geslacht, "
            "jaargroep, groepskey, groepsnaam, brincode, pseudoniem, toestemming_<categorie>)"
        ),
        legal_duty=agreement.legal_duty,
    )
    problems += _field_list_problems(
        "teacher_fields",
        agreement.teacher_fields,
        lookup_teacher_field,
        _("toegestaan: {allowed}").format(allowed=", ".join(teacher_catalog())),
        legal_duty=agreement.legal_duty,
    )
    problems.extend(_format_problems(agreement))
    if agreement.identifier is IdentifierPolicy.PSEUDONIEM and (
        "pseudoniem" not in agreement.field_names
    ):
        problems.append(_("identifier: pseudoniem vraagt het veld pseudoniem in fields"))
    if agreement.role is not Role.OVERHEID and agreement.legal_duty:
        problems.append(_("legal_basis: wettelijke_plicht is alleen voor role overheid"))
    problems.extend(
        location_problems(agreement.verwerkingslocatie, outside_eea=agreement.doorgifte_buiten_eer)
    )
    if agreement.on_request and agreement.schedule.cron:
        problems.append(
            _(
                "schedule.cron: een overeenkomst met wettelijke_plicht levert alleen op verzoek "
                "(sluis verstrek); verwijder schedule"
            )
        )
    return problems


def _field_list_problems(
    key: str,
    fields: Sequence[SharedField],
    lookup: Callable[[str], FieldInfo | None],
    allowed: str,
    *,
    legal_duty: bool,
) -> list[str]:
    """Duplicates, unknown names and denied fields of one field list (fields, teacher_fields)."""
    problems = []
    seen: set[str] = set()
    for shared in fields:
        name = short(shared.name)
        if shared.name in seen:
            problems.append(_("{key}[{name}]: staat er twee keer in").format(key=key, name=name))
        seen.add(shared.name)
        info = lookup(shared.name)
        if info is None:
            problems.append(
                _("{key}[{name}]: onbekend veld; {allowed}").format(
                    key=key, name=name, allowed=allowed
                )
            )
            continue
        reason = denial_reason(info.classification, legal_duty=legal_duty)
        if reason:
            problems.append(
                _("{key}[{name}]: geweigerd: {reason}").format(key=key, name=name, reason=reason)
            )
    return problems


def _format_problems(agreement: Agreement) -> list[str]:
    """What the chosen output format cannot do with this agreement."""
    output = agreement.format
    writer = get_format(output.type)
    problems = []
    if agreement.mode == "delta" and not writer.expresses_deletions:
        problems.append(
            _(
                "mode: delta vraagt een formaat dat de leverancier kan vertellen dat een leerling "
                "weg is; {type} kan dat niet (gebruik mode full, of format csv, parquet of "
                "oneroster)"
            ).format(type=output.type)
        )
    if output.type == "aggregaat" and not agreement.scope.jaargroepen:
        # The grid is every jaargroep of the scope: cells that exist only where pupils are
        # would tell which jaargroepen have any.
        problems.append(_("scope.jaargroepen: aggregaat vraagt de jaargroepen die het telt"))
    if output.profile is not None and output.profile not in writer.profiles:
        allowed = ", ".join(writer.profiles) or _("geen")
        problems.append(
            _(
                "format.profile: onbekend profiel {profile} voor {type}; toegestaan: {allowed}"
            ).format(profile=quote(output.profile), type=output.type, allowed=allowed)
        )
        return problems
    problems.extend(
        writer.agreement_problems(
            tuple(agreement.field_names),
            teacher_fields=tuple(agreement.teacher_field_names),
            identifier=agreement.identifier.value,
            mode=agreement.mode,
            profile=output.profile,
        )
    )
    if agreement.encryption is not None:
        try:
            parse_recipient(agreement.encryption.age_recipient)
        except ConfigurationError as exc:
            problems.append(f"encryption.age_recipient: {exc}")
    return problems


def load_agreement(path: Path) -> LoadedAgreement:
    """Load and check one agreement file.

    Raises:
        AgreementError: one line naming the file, then per problem the key and the rule
            (what is allowed); values from the file are shortened.
    """
    loaded = _load(path)
    if isinstance(loaded, AgreementProblem):
        raise AgreementError(loaded.message)
    return loaded


# At most this many problems of one file are listed; the rest are counted.
_MAX_PROBLEMS = 5


def _joined(path: Path, problems: Sequence[str]) -> str:
    shown = [f"{path}: {p}" for p in problems[:_MAX_PROBLEMS]]
    if len(problems) > _MAX_PROBLEMS:
        more = len(problems) - _MAX_PROBLEMS
        shown.append(
            ngettext("{path}: en nog {n} probleem", "{path}: en nog {n} problemen", more).format(
                path=path, n=more
            )
        )
    return "; ".join(shown)


def _load(path: Path) -> LoadedAgreement | AgreementProblem:
    """Load one agreement file, or say in one line what is wrong with it."""

    def problem(lines: Sequence[str], digest: str | None) -> AgreementProblem:
        return AgreementProblem(path.stem, path, _joined(path, lines), digest)

    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        return problem(
            [_("overeenkomst niet te lezen ({reason})").format(reason=exc.strerror)], None
        )
    digest = hashlib.sha256(raw_bytes).hexdigest()
    try:
        data = safe_yaml.safe_load(raw_bytes.decode("utf-8"))
    except safe_yaml.PlainDataError as exc:
        return problem(
            [_("regel {line}: {problem}").format(line=exc.line, problem=exc.problem)], digest
        )
    except (UnicodeDecodeError, safe_yaml.YAMLError) as exc:
        mark = getattr(exc, "problem_mark", None)
        text = (
            _("geen geldige YAML op regel {line}; verbeter de schrijfwijze").format(
                line=mark.line + 1
            )
            if mark is not None
            else _("geen geldige YAML; verbeter de schrijfwijze")
        )
        return problem([text], digest)
    if not isinstance(data, dict):
        return problem([_("verwacht sleutels met waarden (id, name, role, ...)")], digest)
    try:
        agreement = Agreement.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False)
        return problem(
            [f"{_location(err['loc'], data)}: {error_message(err)}" for err in errors],
            digest,
        )
    if agreement.id != path.stem:
        return problem(
            [
                _("id: {id} moet gelijk zijn aan de bestandsnaam {name}").format(
                    id=quote(agreement.id), name=quote(path.stem)
                )
            ],
            digest,
        )
    problems = _deny_list_problems(agreement)
    if problems:
        return problem(problems, digest)
    return LoadedAgreement(agreement=agreement, path=path, sha256=digest)


@dataclass(frozen=True)
class AgreementProblem:
    """An agreement file that cannot be used: its supplier gets nothing until it is fixed.

    Attributes:
        supplier: the supplier id the file is named after.
        path: the file.
        message: one line: the file, then per problem the key and the rule.
        sha256: hex SHA-256 of the file's bytes; None when it cannot be read.
    """

    supplier: str
    path: Path
    message: str
    sha256: str | None


@dataclass(frozen=True)
class AgreementSet:
    """The agreements of a folder: the ones that load, and a problem per file that does not."""

    agreements: list[LoadedAgreement]
    problems: list[AgreementProblem]

    @property
    def suppliers(self) -> list[str]:
        """Every supplier with an agreement file, good or bad, in file order."""
        return sorted([a.agreement.id for a in self.agreements] + self.skipped)

    @property
    def skipped(self) -> list[str]:
        """The suppliers whose agreement file cannot be used."""
        return [p.supplier for p in self.problems]

    def skipped_message(self) -> str | None:
        """One line saying which agreements cannot be used and why; None when all can."""
        if not self.problems:
            return None
        return _(
            "de overeenkomst(en) van {suppliers} zijn overgeslagen, want niet bruikbaar, en zij "
            "kregen niets: {problems}"
        ).format(
            suppliers=", ".join(self.skipped), problems="; ".join(p.message for p in self.problems)
        )

    def select(self, only: list[str] | None) -> AgreementSet:
        """Keep the named supplier ids (all when `only` is empty).

        Raises:
            UsageError: a requested supplier id has no agreement file (the message lists
                the known ids).
        """
        if not only:
            return self
        _check_known(self.suppliers, only)
        return AgreementSet(
            [a for a in self.agreements if a.agreement.id in only],
            [p for p in self.problems if p.supplier in only],
        )


def _check_known(known: list[str], only: list[str]) -> None:
    unknown = [s for s in only if s not in known]
    if unknown:
        raise UsageError(
            _("onbekende leverancier {unknown}; bekende leveranciers: {known}").format(
                unknown=", ".join(quote(u) for u in unknown[:3]),
                known=", ".join(short(k) for k in known) or _("(geen)"),
            )
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


def load_agreement_set(folder: Path, only: list[str] | None = None) -> AgreementSet:
    """Load every `*.yaml` agreement in a folder (or only the named supplier ids).

    A file that cannot be used does not stop the others: it becomes an `AgreementProblem`,
    and its supplier gets nothing.

    Raises:
        AgreementError: the folder does not exist.
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    if not folder.is_dir():
        raise AgreementError(
            _("{folder}: map met overeenkomsten bestaat niet").format(folder=folder)
        )
    paths = sorted(folder.glob("*.yaml"))
    if only:
        _check_known([p.stem for p in paths], only)
        paths = [p for p in paths if p.stem in only]
    good: list[LoadedAgreement] = []
    bad: list[AgreementProblem] = []
    for path in paths:
        loaded = _load(path)
        if isinstance(loaded, AgreementProblem):
            bad.append(loaded)
        else:
            good.append(loaded)
    return AgreementSet(good, bad)


def load_agreements(folder: Path, only: list[str] | None = None) -> list[LoadedAgreement]:
    """Load every `*.yaml` agreement in a folder, or only the named supplier ids, all good.

    For callers that need each file they name (approving a held delivery of one supplier);
    a run uses `load_agreement_set`, so one bad file stops only its own supplier.

    Raises:
        AgreementError: a file is invalid (one line per file).
        UsageError: a requested supplier id is unknown (the message lists the known ids).
    """
    found = load_agreement_set(folder, only)
    if found.problems:
        raise AgreementError("; ".join(p.message for p in found.problems))
    return found.agreements


def classification_of(name: str) -> Classification | None:
    """Classification of a field name, or None when the name is unknown."""
    info = lookup_field(name)
    return info.classification if info else None
