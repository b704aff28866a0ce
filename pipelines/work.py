"""The units of work the Prefect tasks wrap: prepare a school, deliver a school to a supplier.

Plain functions, so they are tested without Prefect. What they return to the flow is either
a validated school (kept in memory, never persisted) or an outcome holding only counts,
field names, hashes and locations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

from connectors.drops.base import Delivery, Drop, build_manifest
from connectors.errors import ConfigurationError
from connectors.formats.registry import get_format
from connectors.sources.base import empty_frame
from connectors.sources.consents import CONSENT_COLUMNS, read_consents
from connectors.sources.edexml_xsd import validate_with_xsd
from connectors.sources.registry import detect_format, get_source
from contracts.agreements import LoadedAgreement
from contracts.validation import ValidatedSchool, validate_schools
from pipelines.plan import SchoolInput, batches
from policy.apply import apply_agreement_batch

__all__ = [
    "DeliveryOutcome",
    "deliver_schools",
    "delivery_id_for",
    "prepare_in_batches",
    "prepare_schools",
]


def prepare_in_batches(
    schools: list[SchoolInput],
    *,
    today: date,
    batch_size: int,
    edexml_xsd: Path | None = None,
    csv_column_map: Path | None = None,
) -> list[ValidatedSchool]:
    """Prepare every school, a batch at a time (for callers that need no Prefect task)."""
    return [
        school
        for batch in batches(schools, batch_size)
        for school in prepare_schools(
            batch,
            today=today,
            edexml_xsd=edexml_xsd,
            csv_column_map=csv_column_map,
        )
    ]


def prepare_schools(
    schools: list[SchoolInput],
    *,
    today: date,
    edexml_xsd: Path | None = None,
    csv_column_map: Path | None = None,
) -> list[ValidatedSchool]:
    """Extract each school's export and consents, then validate the batch in one pass.

    Args:
        schools: the batch.
        today: the run date.
        edexml_xsd: folder of the official EDEXML schema; when given, EDEXML exports are
            also validated against it before they are read.
        csv_column_map: the column map of the school's CSV/XLSX overzicht, if not the
            bundled ParnasSys-style one.
    """
    items = []
    for school in schools:
        name = detect_format(school.export)
        if name is None:
            raise ConfigurationError(f"{school.export}: no reader for this kind of export")
        if name == "edexml" and edexml_xsd is not None:
            validate_with_xsd(school.export, edexml_xsd)
        options = {"column_map": csv_column_map} if name == "csv_export" else {}
        export = get_source(name, **options).extract(school.export)
        if school.consents is not None:
            consents = read_consents(school.consents)
        else:
            # No consent export: nobody has consented, which is what policy assumes anyway.
            consents = empty_frame(CONSENT_COLUMNS)
        items.append((export, consents))
    return validate_schools(items, today=today)


@dataclass(frozen=True)
class DeliveryOutcome:
    """What happened for one supplier and one school: counts and hashes, no pupil values."""

    supplier: str
    school: str
    status: str  # delivered, dry_run, agreement_expired
    delivery_id: str | None
    mode: str
    fields: tuple[str, ...]
    counts: dict[str, object]
    files: tuple[dict[str, object], ...] = ()
    location: str | None = None
    manifest_sha256: str | None = None
    agreement_sha256: str = ""
    agreement_reference: str = ""
    created_at: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    # Keyed hashes of the delivered pupils (lineage membership); never keys or names.
    member_ids: tuple[str, ...] = ()
    member_row_hashes: tuple[str, ...] = ()


def delivery_id_for(created_at: datetime, school: str, run_id: str) -> str:
    """Delivery folder name: sortable by time, unique per run and school."""
    return f"{created_at:%Y%m%dT%H%M%SZ}-{school}-{run_id[:8]}".lower()


def deliver_schools(
    schools: list[ValidatedSchool],
    loaded: LoadedAgreement,
    *,
    run_id: str,
    created_at: datetime,
    secret: bytes | None,
    drop: Drop | None,
    erased: frozenset[str] = frozenset(),
    membership_secret: bytes | None = None,
) -> list[DeliveryOutcome]:
    """Apply one agreement to a batch of schools and publish one delivery per school.

    Args:
        schools: validated schools of one batch.
        loaded: the supplier's agreement with its file hash.
        run_id: the run, written into every manifest.
        created_at: the run's start; names the delivery folders.
        secret: the supplier's pseudonym secret, if it receives pseudonyms.
        drop: where to publish; None for a dry run (everything but publishing).
        erased: membership ids of pupils that must no longer be shared.
        membership_secret: secret of the membership ids lineage records per delivery.
    """
    agreement = loaded.agreement
    today = created_at.date()
    base = {
        "supplier": agreement.id,
        "mode": agreement.mode,
        "fields": tuple(agreement.field_names),
        "agreement_sha256": loaded.sha256,
        "agreement_reference": agreement.agreement.reference,
        "created_at": created_at.isoformat(),
    }
    if not agreement.is_valid_on(today):
        note = f"agreement {agreement.agreement.reference} is not in force on {today}"
        return [
            DeliveryOutcome(
                school=school.brincode,
                status="agreement_expired",
                delivery_id=None,
                counts={},
                notes=(note,),
                **base,  # type: ignore[arg-type]
            )
            for school in schools
        ]
    cuts = apply_agreement_batch(
        schools,
        agreement,
        today=today,
        secret=secret,
        erased=erased,
        membership_secret=membership_secret,
    )
    options = {"separator": agreement.format.separator} if agreement.format.type == "csv" else {}
    writer = get_format(agreement.format.type)
    outcomes = []
    for school, cut in zip(schools, cuts, strict=True):
        delivery_id = delivery_id_for(created_at, school.brincode, run_id)
        files = writer.render(
            cut.frame, basename=f"{agreement.id}-{school.brincode.lower()}", options=options
        )
        file_rows = tuple({"name": f.name, "sha256": f.sha256, "rows": f.rows} for f in files)
        result = {
            "school": school.brincode,
            "delivery_id": delivery_id,
            "counts": cut.counts.as_dict(),
            "files": file_rows,
            "member_ids": tuple(cut.delivered_ids),
            "member_row_hashes": tuple(cut.delivered_row_hashes),
            **base,
        }
        if drop is None:
            outcomes.append(DeliveryOutcome(status="dry_run", **result))  # type: ignore[arg-type]
            continue
        manifest = build_manifest(
            supplier=agreement.id,
            run_id=run_id,
            school=school.brincode,
            created_at=created_at.isoformat(),
            mode=agreement.mode,
            files=files,
            fields=agreement.field_names,
            counts=cut.counts.as_dict(),
            extra={
                "delivery_id": delivery_id,
                "schooljaar": school.schooljaar,
                "agreement": {"reference": agreement.agreement.reference, "sha256": loaded.sha256},
                "legal_basis": agreement.legal_basis.type.value,
            },
        )
        receipt = drop.publish(
            Delivery(
                supplier=agreement.id,
                delivery_id=delivery_id,
                files=tuple(files),
                manifest=manifest,
            )
        )
        outcomes.append(
            DeliveryOutcome(
                status="delivered",
                location=receipt.location,
                manifest_sha256=receipt.manifest_sha256,
                **result,  # type: ignore[arg-type]
            )
        )
    return outcomes
